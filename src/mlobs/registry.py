"""The one place the library names the reference services (imports run services -> mlobs)."""

from __future__ import annotations

import importlib
from types import ModuleType

# name -> module. Each model service module (in the mlobs_services package) provides
#   train(settings, progress=True) -> ModelInfo     build the artifact deterministically
#   create_app(settings) -> FastAPI                  the instrumented service
#   workload(scenario: str, seed: int)               traffic for `mlobs traffic`
#   mislabel(version_dir) -> str (optional)          a bad version for scenario runs (mlobs.local.bad_version)
# The drift exporter has no model: it provides only create_app(settings).
SERVICES: dict[str, str] = {
    "sentiment": "mlobs_services.sentiment.service",
    "credit": "mlobs_services.credit.service",
    "vision": "mlobs_services.vision.service",
    "drift-exporter": "mlobs.drift.exporter",
    "oncall": "mlobs.oncall.receiver",  # no model either: create_app(settings) only
    "audit-witness": "mlobs.audit.witness.service",
}
# The services above that serve a model (train, workload): what `mlobs train` and the stacks train.
MODEL_SERVICES = ("sentiment", "vision", "credit")

# Model name -> module providing replay(artifact_dir: Path, inputs: dict) -> {"output", "outcome",
# "reason_codes"}: the decision that artifact makes on those exact inputs (`mlobs audit replay`).
REPLAYERS: dict[str, str] = {
    "credit": "mlobs_services.credit.replay",
}


def replayer(model: str) -> ModuleType | None:
    """The replay module of a model, or None when decisions of that model cannot be replayed."""
    module = REPLAYERS.get(model)
    return importlib.import_module(module) if module is not None else None


def service_names() -> list[str]:
    return sorted(SERVICES)


def model_names() -> list[str]:
    return sorted(MODEL_SERVICES)


def load(name: str) -> ModuleType:
    try:
        module = SERVICES[name]
    except KeyError:
        raise SystemExit(f"unknown service {name!r}; choose one of: {', '.join(service_names())}") from None
    return importlib.import_module(module)
