"""A corpus of hostile inputs: each gets its documented 4xx (never a 5xx, never the input echoed)."""

from __future__ import annotations

import io
import zlib

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mlobs_services.vision import model as vision_model
from mlobs_services.vision.workload import png
from protect.apps import auth, build, protect_settings

JSON = {"content-type": "application/json"}
MAX_BODY = 100_000
MAX_IMAGE = 50_000
# FastAPI answers a body it cannot parse at all (bad UTF-8, recursion) with HTTPException(400), which
UNPARSEABLE = "invalid_body"  # a body FastAPI cannot parse at all (bad UTF-8, nesting too deep)


def nested(depth: int) -> bytes:
    return b'{"text": ' + b"[" * depth + b"]" * depth + b"}"


def truncated_png() -> bytes:
    return png(vision_model.digit_image(vision_model.load_digits_data()[0][3]))[:-40]


def cmyk_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("CMYK", (28, 28)).save(out, format="JPEG")
    return out.getvalue()


def bomb_png() -> bytes:
    return png(Image.new("1", (20_000, 20_000)))  # about 50 kB on the wire, 400 megapixels decoded


def forged_header_png() -> bytes:
    """A real 28 x 28 PNG whose IHDR (CRC fixed up) claims 65,535 x 65,535."""
    data = bytearray(png(Image.new("L", (28, 28))))
    data[16:24] = (65535).to_bytes(4, "big") * 2
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("L", (28, 28)).save(out, format="GIF")
    return out.getvalue()


def chunks(total: int, size: int = 10_000):
    for _ in range(total // size):
        yield b"a" * size


# (input, service, request kwargs, documented status, documented error code)
CORPUS = [
    ("huge JSON body, declared length", "sentiment",
     {"content": b'{"text": "' + b"a" * (2 * MAX_BODY) + b'"}', "headers": JSON}, 413, "too_large"),
    ("huge body streamed without a length", "sentiment", {"content": chunks(3 * MAX_BODY), "headers": JSON},
     413, "too_large"),
    ("deeply nested JSON (20,000 levels)", "sentiment", {"content": nested(20_000), "headers": JSON},
     400, UNPARSEABLE),
    ("JSON nested 100 levels in a field", "sentiment", {"content": nested(100), "headers": JSON}, 422, "wrong_type"),
    ("invalid UTF-8 in a JSON string", "sentiment", {"content": b'{"text": "caf\xc3\x28 \xff\xfe"}', "headers": JSON},
     400, UNPARSEABLE),
    ("Latin-1 instead of UTF-8", "sentiment", {"content": '{"text": "café"}'.encode("latin-1"), "headers": JSON},
     400, UNPARSEABLE),
    ("zero-byte JSON body", "sentiment", {"content": b"", "headers": JSON}, 422, "missing_field"),
    ("truncated JSON", "sentiment", {"content": b'{"text": "goo', "headers": JSON}, 422, "invalid_json"),
    ("JSON as text/plain", "sentiment", {"content": b'{"text": "good"}', "headers": {"content-type": "text/plain"}},
     422, "wrong_type"),
    ("form data instead of JSON", "sentiment", {"content": b"text=good",
     "headers": {"content-type": "application/x-www-form-urlencoded"}}, 422, "wrong_type"),
    ("a batch of 10,000 texts", "sentiment", {"json": {"texts": ["x"] * 10_000}}, 422, "batch_too_large"),
    ("a number where text belongs", "sentiment", {"json": {"text": 1e308}}, 422, "wrong_type"),
    ("an invalid Content-Length", "sentiment", {"content": b"{}", "headers": {**JSON, "content-length": "-5"}},
     400, "invalid_content_length"),
    ("NaN income", "credit", {"content": None, "json_patch": {"income": "NaN"}}, 422, "out_of_range"),
    ("infinite loan amount (1e999)", "credit", {"content": None, "json_patch": {"loan_amount": "1e999"}},
     422, "out_of_range"),
    ("unknown category", "credit", {"content": None, "json_patch": {"employment_type": '"pirate"'}},
     422, "unknown_category"),
    ("zero-byte image", "vision", {"content": b"", "headers": {"content-type": "image/png"}}, 422, "empty"),
    ("truncated PNG", "vision", {"content": "truncated_png", "headers": {"content-type": "image/png"}},
     422, "truncated"),
    ("PNG decompression bomb (20,000 x 20,000)", "vision",
     {"content": "bomb_png", "headers": {"content-type": "image/png"}}, 422, "too_many_pixels"),
    ("PNG header forged to 65,535 x 65,535", "vision",
     {"content": "forged_header_png", "headers": {"content-type": "image/png"}}, 422, "too_many_pixels"),
    ("CMYK JPEG", "vision", {"content": "cmyk_jpeg", "headers": {"content-type": "image/jpeg"}}, 422, "wrong_mode"),
    ("GIF sent as PNG", "vision", {"content": "gif", "headers": {"content-type": "image/png"}}, 422, "not_an_image"),
    ("random bytes as JPEG", "vision", {"content": bytes(range(256)) * 10, "headers": {"content-type": "image/jpeg"}},
     422, "not_an_image"),
    ("an image as text/plain", "vision", {"content": "gif", "headers": {"content-type": "text/plain"}},
     415, "unsupported_media_type"),
    ("an image over the byte limit", "vision",
     {"content": b"\x89PNG" + b"\x00" * (2 * MAX_IMAGE), "headers": {"content-type": "image/png"}}, 413, "too_large"),
    ("an image streamed past the byte limit", "vision",
     {"content": chunks(3 * MAX_IMAGE), "headers": {"content-type": "image/png"}}, 413, "too_large"),
    ("a multipart batch over the limit", "vision",
     {"files": "too_many_files"}, 422, "batch_too_large"),
    ("a multipart body with no files", "vision",
     {"content": b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--b--\r\n',
      "headers": {"content-type": "multipart/form-data; boundary=b"}}, 422, "empty"),
]

GENERATED = {f.__name__: f for f in (truncated_png, bomb_png, forged_header_png, cmyk_jpeg, gif)}


def credit_body(patch: dict) -> bytes:
    from mlobs_services.credit import data

    import orjson

    row = data.generate(3, seed=3)[0]
    text = orjson.dumps({"applicant_id": row["applicant_id"], "personal": row["personal"],
                         "features": row["features"]}).decode()
    for name, raw in patch.items():
        value = orjson.dumps(row["features"][name]).decode()
        text = text.replace(f'"{name}":{value}', f'"{name}":{raw}', 1)
    return text.encode()


def request_kwargs(kwargs: dict) -> dict:
    kwargs = dict(kwargs)
    if "json_patch" in kwargs:
        kwargs["content"] = credit_body(kwargs.pop("json_patch"))
        kwargs["headers"] = JSON
    if isinstance(kwargs.get("content"), str):
        kwargs["content"] = GENERATED[kwargs["content"]]()
    if kwargs.get("files") == "too_many_files":
        digit = png(vision_model.digit_image(vision_model.load_digits_data()[0][0]))
        kwargs["files"] = [("images", (f"{i}.png", digit, "image/png")) for i in range(5)]
    kwargs["headers"] = {**kwargs.get("headers", {}), **auth()}
    return kwargs


@pytest.fixture(scope="module")
def clients(artifacts_dir, sentiment_model, vision_model, credit_model):
    from conftest import Sinks
    from mlobs.settings import Settings

    settings = Settings(artifacts_dir=artifacts_dir, _env_file=None, max_body_bytes=MAX_BODY, max_batch=4,
                        max_image_bytes=MAX_IMAGE, max_image_pixels=250_000)
    out, managers = {}, []
    for service in ("sentiment", "vision", "credit"):
        app, _ = build(service, settings, Sinks(), protect_settings(rate_per_s=10_000, burst=10_000))
        client = TestClient(app)
        client.__enter__()
        managers.append(client)
        out[service] = client
    yield out
    for client in managers:
        client.__exit__(None, None, None)


@pytest.mark.parametrize("name, service, kwargs, status, code", CORPUS, ids=[c[0] for c in CORPUS])
def test_each_hostile_input_gets_its_documented_4xx(clients, name, service, kwargs, status, code):
    answer = clients[service].post("/predict", **request_kwargs(kwargs))
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text[:300]
    assert answer.headers["x-content-type-options"] == "nosniff"


def corpus_table() -> str:
    """The markdown table of documented answers (README)."""
    rows = [f"| {name} | {service} | {status} | `{code}` |" for name, service, _, status, code in CORPUS]
    return "\n".join(["| input | service | status | code |", "|---|---|---|---|", *rows])
