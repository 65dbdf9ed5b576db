from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mlobs_services.vision import model
from mlobs_services.vision.service import create_app
from mlobs_services.vision.workload import png


@pytest.fixture
def service(settings, sinks, vision_model):
    info, _ = vision_model
    small = settings.model_copy(update={"max_batch": 4, "max_image_bytes": 50_000, "max_image_pixels": 250_000})
    app = create_app(small, configure_logging=False, **sinks.kwargs())
    with TestClient(app) as client:
        yield client, info


def digit(index: int) -> tuple[bytes, str]:
    pixels, labels = model.load_digits_data()
    return png(model.digit_image(pixels[index])), str(labels[index])


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


def post_image(client, data: bytes, content_type: str = "image/png"):
    return client.post("/predict", content=data, headers={"content-type": content_type})


def test_a_png_digit_is_classified_with_version_and_request_id(service):
    client, info = service
    data, label = digit(1500)
    body = post_image(client, data).json()
    assert body["predictions"][0]["label"] == label
    assert body["model_version"] == info.version and len(body["request_id"]) == 32


def test_a_jpeg_digit_is_classified(service):
    client, _ = service
    pixels, labels = model.load_digits_data()
    body = post_image(client, jpeg(model.digit_image(pixels[1600]).convert("RGB")), "image/jpeg").json()
    assert body["predictions"][0]["label"] == str(labels[1600])


def test_a_multipart_batch_gets_one_prediction_per_image(service):
    client, _ = service
    parts = [("images", (f"{i}.png", digit(i)[0], "image/png")) for i in (1500, 1501, 1502)]
    body = client.post("/predict", files=parts).json()
    assert [p["label"] for p in body["predictions"]] == [digit(i)[1] for i in (1500, 1501, 1502)]


def test_feedback_on_a_prediction_is_scored(service, sinks):
    client, info = service
    data, label = digit(1700)
    request_id = post_image(client, data).json()["request_id"]
    assert client.post("/feedback", json={"request_id": request_id, "label": label}).json() == {"outcome": "correct"}
    labels = {"service": "vision", "model": "vision", "model_version": info.version, "outcome": "correct"}
    assert sinks.sample("mlobs_feedback_total", labels) == 1


def truncated() -> bytes:
    data = png(Image.new("L", (64, 64), 77))
    return data[: len(data) - 30]


def cmyk() -> bytes:
    return jpeg(Image.new("CMYK", (28, 28)))


@pytest.mark.parametrize(
    "data, content_type, status, reason",
    [
        (b"", "image/png", 422, "empty"),
        (b"this is text, not an image", "image/png", 422, "not_an_image"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/png", 422, "not_an_image"),
        (truncated(), "image/png", 422, "truncated"),
        (cmyk(), "image/jpeg", 422, "wrong_mode"),
        (png(Image.new("1", (1000, 1000))), "image/png", 422, "too_many_pixels"),
        (png(Image.effect_noise((256, 256), 100).convert("L")), "image/png", 413, "too_large"),
        (b"\x89PNG", "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_bad_images_get_a_clear_4xx_counted_by_reason(service, sinks, data, content_type, status, reason):
    client, info = service
    response = post_image(client, data, content_type)
    assert response.status_code == status
    assert response.json()["error"]["code"] == reason
    labels = {"service": "vision", "model": "vision", "model_version": info.version, "reason": reason}
    assert sinks.sample("mlobs_rejected_inputs_total", labels) == 1


def test_a_batch_over_the_limit_is_refused(service):
    client, _ = service
    parts = [("images", (f"{i}.png", digit(i)[0], "image/png")) for i in range(5)]
    response = client.post("/predict", files=parts)
    assert response.status_code == 422 and response.json()["error"]["code"] == "batch_too_large"


def test_a_decompression_bomb_is_refused_from_its_header(service):
    client, _ = service
    bomb = png(Image.new("1", (20_000, 20_000)))  # ~50 kB compressed, 400 megapixels decoded
    assert len(bomb) < 50_000
    response = post_image(client, bomb)
    assert response.status_code == 422 and response.json()["error"]["code"] == "too_many_pixels"
