"""A small model service as a user writes one, for tests that run it under plain uvicorn:
`python -m uvicorn support.toy_service:app --app-dir tests`. TOY_PROTECT=1 adds endpoint protection."""

import os

from fastapi import FastAPI
from opentelemetry import metrics

from mlobs import ModelInfo, instrument

MODEL = ModelInfo("toy", "v1abc", "data123", "code456", classes=("no", "yes"))

app = FastAPI()
telemetry = instrument(app, MODEL, protect=os.environ.get("TOY_PROTECT") == "1")
# A metric made with the OpenTelemetry API, as an application may have some.
scored = metrics.get_meter("toy").create_counter("toy.scored")


@app.post("/predict/{kind}")
async def predict(kind: str):
    with telemetry.inference():
        pass
    telemetry.record_predictions(["yes"], [0.9])
    scored.add(1)
    return {"kind": kind}
