"""The credit-scoring service: every decision is durable in the audit log before it is answered."""

# No `from __future__ import annotations`: FastAPI reads the endpoint annotations at runtime.

import time

from fastapi import FastAPI, Request

from mlobs import artifacts, instrument
from mlobs.audit.record import new_decision_id
from mlobs.decisions import open_decision_log
from mlobs.feedback import client_of
from mlobs.settings import Settings
from mlobs_services.credit import model as credit_model
from mlobs_services.credit.schemas import Application, CreditDecision
from mlobs_services.credit.workload import workload  # noqa: F401  (the registry's traffic entry)

NAME = credit_model.NAME
DESCRIPTIONS = dict(credit_model.REASONS.values())


def train(settings: Settings, progress: bool = True):
    return credit_model.train(settings.artifacts_dir, progress=progress)


def minimised(features: dict) -> dict:
    """What the long-term log keeps in clear: the model's inputs, with age as a band."""
    kept = {k: v for k, v in features.items() if k != "age"}
    kept["age_band"] = f"{features['age'] // 10 * 10}s"
    return kept


def score_and_explain(model, features: dict) -> tuple[float, list[str]]:
    return float(model.default_probability([features])[0]), model.explain([features])[0]


def score(probability: float) -> int:
    return int(round(300 + (1 - probability) * 550))


def create_app(settings: Settings, **instrument_options) -> FastAPI:
    directory, info = artifacts.require(settings.artifacts_dir, NAME)
    model = credit_model.load(directory)

    app = FastAPI(title="mlobs credit", version=info.version)
    telemetry = instrument(app, info, settings=settings, **instrument_options)
    decisions = open_decision_log(settings, telemetry, info, app)

    @app.post("/predict", response_model=CreditDecision)
    async def predict(application: Application, request: Request):
        start = time.perf_counter()
        features = application.features.model_dump()
        probability, codes = await telemetry.predict(score_and_explain, model, features)
        outcome = "approve" if probability < model.approve_below else "decline"
        telemetry.record_predictions([outcome], [max(probability, 1 - probability)])
        telemetry.ship({"probs": [1 - probability, probability],
                        "features": {k: features[k] for k in (*credit_model.DRIFT_NUMERIC, *credit_model.CATEGORICAL)},
                        "segment": client_of(request)})
        reasons = codes if outcome == "decline" else []
        body = {"decision": outcome, "score": score(probability), "default_probability": round(probability, 6),
                "reasons": [{"code": c, "description": DESCRIPTIONS[c]} for c in reasons],
                "model": info.name, "model_version": info.version}
        decision_id = new_decision_id()
        if decisions is not None:
            raw = application.model_dump(mode="json")
            await decisions.record(
                subject=application.applicant_id, inputs=minimised(features),
                personal={**raw["personal"], "age": features["age"]},
                output={"score": body["score"], "default_probability": body["default_probability"]},
                outcome=outcome, reason_codes=reasons, raw=raw,
                latency_ms=round((time.perf_counter() - start) * 1000, 3), decision_id=decision_id,
            )
        return {"decision_id": decision_id, **body}

    return app
