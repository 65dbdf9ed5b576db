"""The canonical form of inputs: re-encodings of one input agree, different inputs do not."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from mlobs.protect.canonical import input_digest
from mlobs.protect.server import head_problem
from mlobs.protect.throttle import AuthThrottle


def test_re_encoded_texts_have_one_digest():
    variants = ["The food was great", "the food  was GREAT", "\tthe food was great\n", "the fo\u200bod was great",
                "ｔｈｅ food was great", "the food was gr\u00adeat"]
    assert len({input_digest({"text": v}) for v in variants}) == 1
    assert input_digest({"text": "the food was awful"}) != input_digest({"text": variants[0]})


def test_one_picture_as_png_and_as_jpeg_has_one_digest():
    from mlobs_services.vision.model import preprocess

    picture = Image.fromarray((np.indices((28, 28)).sum(axis=0) % 2 * 255).astype(np.uint8)).resize((56, 56))
    encoded = []
    for fmt in ("PNG", "JPEG"):
        out = io.BytesIO()
        picture.save(out, format=fmt, quality=100)
        encoded.append(Image.open(io.BytesIO(out.getvalue())))
    digests = {input_digest({"image": preprocess(image).numpy()}) for image in encoded}
    assert len(digests) == 1


def test_features_differing_below_three_significant_digits_have_one_digest():
    a = {"features": {"income": 48_012.0, "age": 40, "home_ownership": "rent"}}
    b = {"features": {"age": 40, "home_ownership": "rent", "income": 48_014.99}}
    c = {"features": {"age": 40, "home_ownership": "rent", "income": 52_000.0}}
    assert input_digest(a) == input_digest(b) != input_digest(c)


def test_the_throttle_tracks_a_bounded_number_of_addresses():
    now = [0.0]
    throttle = AuthThrottle(limit=2, window_s=60, clock=lambda: now[0], max_addresses=100)
    for i in range(1000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle._windows) <= 100
    throttle.failed("10.9.9.9")
    throttle.failed("10.9.9.9")
    assert throttle.retry_after("10.9.9.9") == 60
    now[0] = 61.0
    assert throttle.retry_after("10.9.9.9") == 0


def test_request_heads_are_refused_for_smuggling_folding_and_bare_lf_and_accepted_otherwise():
    good = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    assert head_problem(good) is None
    assert head_problem(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Len") is None  # incomplete, so far fine
    assert "Transfer-Encoding" in head_problem(
        b"POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert "folded" in head_problem(b"GET / HTTP/1.1\r\nX-A: 1\r\n\tmore\r\n\r\n")
    assert "LF" in head_problem(b"GET / HTTP/1.1\nHost: x\r\n\r\n")
    assert head_problem(b"GET /a\nb HTTP/1.1\r\n") is not None
