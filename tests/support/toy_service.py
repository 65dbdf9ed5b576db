"""A small model service as a user writes one, for tests that run it under plain uvicorn:
`python -m uvicorn support.toy_service:app --app-dir tests`. TOY_PROTECT=1 adds endpoint protection."""

import os

from fastapi import FastAPI

from mlobs import ModelInfo, instrument

MODEL = ModelInfo("toy", "v1abc", "data123", "code456", classes=("no", "yes"))

app = FastAPI()
telemetry = instrument(app, MODEL, protect=os.environ.get("TOY_PROTECT") == "1")


@app.post("/predict/{kind}")
async def predict(kind: str):
    with telemetry.inference():
        pass
    telemetry.record_predictions(["yes"], [0.9])
    return {"kind": kind}
