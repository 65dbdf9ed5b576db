"""The sentiment service: FastAPI app, instrumented with the one mlobs call."""

# No `from __future__ import annotations`: FastAPI must see the request model built in create_app.

import numpy as np
from fastapi import FastAPI, Request

from mlobs import artifacts, instrument
from mlobs.heap import tune_gc
from mlobs.decisions import open_decision_log
from mlobs.errors import InputRejected
from mlobs.feedback import client_of, feedback_router, memory_for
from mlobs.protect import protect
from mlobs.protect.budget import charge
from mlobs.settings import Settings
from mlobs_services.sentiment import model as sentiment_model
from mlobs_services.sentiment.schemas import BatchPrediction, SinglePrediction, predict_request
from mlobs_services.sentiment.workload import workload  # noqa: F401  (the registry's traffic entry)

NAME = sentiment_model.NAME


def train(settings: Settings, progress: bool = True):
    return sentiment_model.train(settings.artifacts_dir, progress=progress)


def create_app(settings: Settings, **instrument_options) -> FastAPI:
    """`instrument_options` go to mlobs.instrument() (tests pass their own sinks)."""
    directory, info = artifacts.require(settings.artifacts_dir, NAME)
    pipeline = sentiment_model.load(directory)
    classes = np.array(info.classes)
    PredictRequest = predict_request(settings.max_text_chars, settings.max_batch)

    app = FastAPI(title="mlobs sentiment", version=info.version)
    telemetry = instrument(app, info, settings=settings, **instrument_options)
    # Keys, per-client limits, body limits, security headers (MLOBS_PROTECT__*): inside the telemetry.
    protect(app, settings, telemetry)
    tune_gc(app, settings)
    decisions = open_decision_log(settings, telemetry, info, app)
    memory = memory_for(settings, info.classes, info, telemetry, app)

    @app.post("/predict", response_model=SinglePrediction | BatchPrediction)
    async def predict(body: PredictRequest, request: Request):
        if body.text is None and body.texts is None:
            raise InputRejected("missing_field", "send `text` (one) or `texts` (a batch)")
        if body.text is not None and body.texts is not None:
            raise InputRejected("ambiguous", "send `text` or `texts`, not both")
        texts = [body.text] if body.text is not None else body.texts
        charge(sum(map(len, texts)), settings.protect.max_batch_chars, "characters")
        probabilities = await telemetry.predict(pipeline.predict_proba, texts, batch_size=len(texts))
        best = probabilities.argmax(axis=1)
        labels = classes[best].tolist()
        confidences = probabilities[np.arange(len(texts)), best].tolist()
        telemetry.record_predictions(labels, confidences)
        client = client_of(request)  # the drift segment and the owner of the prediction
        for text, row in zip(texts, probabilities):
            telemetry.ship({"probs": row, "text": text, "segment": client})
        request_id = telemetry.request_id(request)
        memory.remember(request_id, labels, client)
        if decisions is not None:
            # The text itself goes only to the short-retention raw store.
            await decisions.record(
                output=[{"label": l, "probability": round(p, 6)} for l, p in zip(labels, confidences)],
                inputs={"texts": len(texts), "chars": [len(t) for t in texts]},
                outcome=labels[0] if len(labels) == 1 else "batch", raw=texts, decision_id=request_id,
            )
        head = {"request_id": request_id, "model": info.name, "model_version": info.version}
        if body.text is not None:
            return {**head, "label": labels[0], "probability": confidences[0]}
        return {**head, "predictions": [{"label": l, "probability": p} for l, p in zip(labels, confidences)]}

    app.include_router(feedback_router(memory, telemetry, info.classes, settings.protect.roles))

    return app
