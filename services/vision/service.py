"""The image classification service: PNG or JPEG in (one, or a multipart batch), a digit out."""

# No `from __future__ import annotations`: FastAPI reads the endpoint annotations at runtime.

import numpy as np
import torch
from fastapi import FastAPI, Request
from pydantic import BaseModel

from mlobs import artifacts, instrument
from mlobs.heap import tune_gc
from mlobs.decisions import open_decision_log
from mlobs.errors import InputRejected
from mlobs.feedback import client_of, feedback_router, memory_for
from mlobs.protect import image_body_limits, protect
from mlobs.protect.budget import charge
from mlobs.settings import Settings
from mlobs_services.vision import model as vision_model
from mlobs_services.vision.decode import load, open_image
from mlobs_services.vision.workload import workload  # noqa: F401  (the registry's traffic entry)

NAME = vision_model.MODEL_NAME
mislabel = vision_model.mislabel  # the registry's bad-version entry (scenario runs only)
IMAGE_TYPES = ("image/png", "image/jpeg")


class Prediction(BaseModel):
    label: str
    probability: float


class VisionPrediction(BaseModel):
    request_id: str
    model: str
    model_version: str
    predictions: list[Prediction]


def train(settings: Settings, progress: bool = True):
    return vision_model.train(settings.artifacts_dir, progress=progress)


async def read_images(request: Request, settings: Settings) -> list[bytes]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = int(request.headers.get("content-length") or 0)
    limit = settings.max_image_bytes * (settings.max_batch if content_type == "multipart/form-data" else 1)
    if declared > limit + 64 * 1024:
        raise InputRejected("too_large", f"the body may have at most {limit} bytes", 413)
    if content_type in IMAGE_TYPES:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > settings.max_image_bytes:
                raise InputRejected("too_large", f"an image may have at most {settings.max_image_bytes} bytes", 413)
        return [bytes(body)]
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=settings.max_batch + 1, max_fields=settings.max_batch + 1,
                                      max_part_size=settings.max_image_bytes)
        except Exception as exc:  # starlette raises MultiPartException / HTTPException on limits
            raise InputRejected("invalid_multipart", f"the multipart body could not be read: {exc}") from None
        files = [value for _, value in form.multi_items() if hasattr(value, "read")]
        if len(files) > settings.max_batch:
            raise InputRejected("batch_too_large", f"a batch may have at most {settings.max_batch} images")
        if not files:
            raise InputRejected("empty", "the multipart body has no image files")
        return [await f.read() for f in files]
    raise InputRejected("unsupported_media_type", "send image/png, image/jpeg or multipart/form-data", 415)


def decode_batch(images: list) -> torch.Tensor:
    return torch.stack([vision_model.preprocess(load(image)) for image in images])


def create_app(settings: Settings, **instrument_options) -> FastAPI:
    directory, _ = artifacts.require(settings.artifacts_dir, NAME)
    net, info = vision_model.load(directory)
    torch.set_num_threads(1)  # one request at a time per core; intra-op threads only contend

    app = FastAPI(title="mlobs vision", version=info.version)
    telemetry = instrument(app, info, settings=settings, **instrument_options)
    # Keys, per-client limits, body limits, security headers (MLOBS_PROTECT__*): inside the telemetry.
    protect(app, settings, telemetry, body_limits=image_body_limits(settings))
    tune_gc(app, settings)
    decisions = open_decision_log(settings, telemetry, info, app)
    memory = memory_for(settings, info.classes, info, telemetry, app)

    @app.post("/predict", response_model=VisionPrediction,
              openapi_extra={"requestBody": {"content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                         for t in IMAGE_TYPES}}})
    async def predict(request: Request):
        images = [open_image(data, settings.max_image_bytes, settings.max_image_pixels)
                  for data in await read_images(request, settings)]
        charge(sum(i.size[0] * i.size[1] for i in images), settings.protect.max_request_pixels, "pixels")
        # Decoding a large batch runs on the worker pool, in this client's turn (mlobs.protect.workers).
        batch = await telemetry.runner.run(decode_batch, images)
        probabilities = await telemetry.predict(vision_model.predict_proba, net, batch, batch_size=len(images))
        best = probabilities.argmax(axis=1)
        labels = [info.classes[i] for i in best]
        confidences = probabilities[np.arange(len(images)), best].tolist()
        telemetry.record_predictions(labels, confidences)
        client = client_of(request)  # the drift segment and the owner of the prediction
        for row, tensor in zip(probabilities, batch):
            telemetry.ship({"probs": row, "image": tensor.numpy(), "segment": client})
        request_id = telemetry.request_id(request)
        memory.remember(request_id, labels, client)
        if decisions is not None:
            await decisions.record(
                output=[{"label": l, "probability": round(p, 6)} for l, p in zip(labels, confidences)],
                inputs={"images": len(images), "sizes": [list(i.size) for i in images]},
                outcome=labels[0] if len(labels) == 1 else "batch", decision_id=request_id,
            )
        return {"request_id": request_id, "model": info.name, "model_version": info.version,
                "predictions": [{"label": l, "probability": p} for l, p in zip(labels, confidences)]}

    app.include_router(feedback_router(memory, telemetry, info.classes, settings.protect.roles))

    return app
