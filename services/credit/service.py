"""The credit-scoring service: every decision is durable in the audit log before it is answered."""

# No `from __future__ import annotations`: FastAPI reads the endpoint annotations at runtime.

import time

from fastapi import FastAPI, Request
from mlobs_services.credit import model as credit_model
from mlobs_services.credit.schemas import Application, CreditDecision
from mlobs_services.credit.workload import workload  # noqa: F401  (the registry's traffic entry)

from mlobs import artifacts, instrument
from mlobs.audit.record import new_decision_id
from mlobs.decisions import open_decision_log
from mlobs.feedback import client_of
from mlobs.heap import tune_gc
from mlobs.protect import protect
from mlobs.settings import Settings

NAME = credit_model.NAME
mislabel = credit_model.mislabel  # the registry's bad-version entry (scenario runs only)
DESCRIPTIONS = dict(credit_model.REASONS.values())


def train(settings: Settings, progress: bool = True):
    return credit_model.train(settings.artifacts_dir, progress=progress)


def minimised(features: dict) -> dict:
    """What the long-term log keeps in clear: coarse bands and categories, nothing exact. The
    exact inputs are recorded encrypted under the applicant's key (replay decrypts them)."""
    return {
        "age_band": f"{features['age'] // 10 * 10}s",
        "income_band": _band(features["income"], 25_000),
        "loan_amount_band": _band(features["loan_amount"], 10_000),
        **{name: features[name] for name in credit_model.CATEGORICAL},
    }


def _band(value: float, width: int) -> str:
    low = int(value // width * width)
    return f"{low}-{low + width}"


def decide(model, features: dict) -> tuple[float, str, dict, list[str]]:
    """Default probability, outcome, recorded output and reason codes of one application: what
    the service answers and what `mlobs audit replay` recomputes, by the same code."""
    probability, codes = score_and_explain(model, features)
    outcome = "approve" if probability < model.approve_below else "decline"
    output = {"score": score(probability), "default_probability": round(probability, 6)}
    return probability, outcome, output, codes if outcome == "decline" else []


def score_and_explain(model, features: dict) -> tuple[float, list[str]]:
    return float(model.default_probability([features])[0]), model.explain([features])[0]


def score(probability: float) -> int:
    return int(round(300 + (1 - probability) * 550))


def create_app(settings: Settings, **instrument_options) -> FastAPI:
    directory, info = artifacts.require(settings.artifacts_dir, NAME)
    model = credit_model.load(directory)
    artifact_sha256 = artifacts.content_hash(directory)  # each record names the exact artifact

    app = FastAPI(title="mlobs credit", version=info.version)
    telemetry = instrument(app, info, settings=settings, **instrument_options)
    # Keys, per-client limits, body limits, security headers (MLOBS_PROTECT__*): inside the telemetry.
    protect(app, settings, telemetry)
    tune_gc(app, settings)
    decisions = open_decision_log(settings, telemetry, info, app)

    @app.post("/predict", response_model=CreditDecision)
    async def predict(application: Application, request: Request):
        start = time.perf_counter()
        features = application.features.model_dump()
        probability, outcome, output, reasons = await telemetry.predict(decide, model, features)
        telemetry.record_predictions([outcome], [max(probability, 1 - probability)])
        telemetry.ship({"probs": [1 - probability, probability],
                        "features": credit_model.drift_features(features),
                        "segment": client_of(request)})
        body = {"decision": outcome, **output,
                "reasons": [{"code": c, "description": DESCRIPTIONS[c]} for c in reasons],
                "model": info.name, "model_version": info.version}
        decision_id = new_decision_id()
        if decisions is not None:
            raw = application.model_dump(mode="json")
            receipt = await decisions.record(
                subject=application.applicant_id, inputs=minimised(features), personal=raw["personal"],
                model_inputs=features, artifact_sha256=artifact_sha256, output=output,
                outcome=outcome, reason_codes=reasons, raw=raw,
                latency_ms=round((time.perf_counter() - start) * 1000, 3), decision_id=decision_id,
            )
            body["audit"] = {"leaf_index": receipt.seq - 1, "record_hash": receipt.hash}
        return {"decision_id": decision_id, **body}

    return app
