"""The sentiment service: FastAPI app, instrumented with the one mlobs call."""

# No `from __future__ import annotations`: FastAPI must see the request model built in create_app.

import numpy as np
from fastapi import FastAPI, Request

from mlobs import artifacts, instrument
from mlobs.errors import InputRejected
from mlobs.feedback import PredictionMemory
from mlobs.settings import Settings
from mlobs_services.sentiment import model as sentiment_model
from mlobs_services.sentiment.schemas import (
    BatchPrediction, Feedback, FeedbackResult, SinglePrediction, predict_request,
)
from mlobs_services.sentiment.workload import workload  # noqa: F401  (the registry's traffic entry)

NAME = sentiment_model.NAME


def train(settings: Settings, progress: bool = True):
    return sentiment_model.train(settings.artifacts_dir, progress=progress)


def create_app(settings: Settings, **instrument_options) -> FastAPI:
    """`instrument_options` go to mlobs.instrument (tests pass their own sinks)."""
    directory = artifacts.version_dir(settings.artifacts_dir, NAME)
    if directory is None:
        raise FileNotFoundError(f"no {NAME} model in {settings.artifacts_dir}; run `mlobs train {NAME}`")
    info = artifacts.load_info(directory)
    pipeline = sentiment_model.load(directory)
    classes = np.array(info.classes)
    memory = PredictionMemory(settings.feedback_memory)
    PredictRequest = predict_request(settings.max_text_chars, settings.max_batch)

    app = FastAPI(title="mlobs sentiment", version=info.version)
    telemetry = instrument(app, info, settings=settings, **instrument_options)

    @app.post("/predict", response_model=SinglePrediction | BatchPrediction)
    async def predict(body: PredictRequest, request: Request):
        if body.text is None and body.texts is None:
            raise InputRejected("missing_field", "send `text` (one) or `texts` (a batch)")
        if body.text is not None and body.texts is not None:
            raise InputRejected("ambiguous", "send `text` or `texts`, not both")
        texts = [body.text] if body.text is not None else body.texts
        # Inline, not in a thread: one predict_proba is ~0.5 ms, less than a thread hop costs.
        with telemetry.inference(len(texts)):
            probabilities = pipeline.predict_proba(texts)
        best = probabilities.argmax(axis=1)
        labels = classes[best].tolist()
        confidences = probabilities[np.arange(len(texts)), best].tolist()
        telemetry.record_predictions(labels, confidences)
        request_id = telemetry.request_id(request)
        memory.remember(request_id, labels)
        head = {"request_id": request_id, "model": info.name, "model_version": info.version}
        if body.text is not None:
            return {**head, "label": labels[0], "probability": confidences[0]}
        return {**head, "predictions": [{"label": l, "probability": p} for l, p in zip(labels, confidences)]}

    @app.post("/feedback", response_model=FeedbackResult)
    async def feedback(body: Feedback):
        if body.label not in info.classes:
            raise InputRejected("unknown_label", f"label must be one of {list(info.classes)}")
        predicted = memory.predicted(body.request_id, body.index)
        if predicted is None:
            raise InputRejected("unknown_request", "no recent prediction has that request id and index", 404)
        correct = predicted == body.label
        telemetry.record_feedback(correct)
        return {"outcome": "correct" if correct else "incorrect"}

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "model": info.name, "model_version": info.version}

    @app.get("/readyz")
    async def readyz():
        return {"status": "ready", "model": info.name, "model_version": info.version}

    return app
