"""The one place the library names the reference services (imports run services -> mlobs)."""

from __future__ import annotations

import importlib
from types import ModuleType

# name -> module. Each model service module (in the mlobs_services package) provides
#   train(settings, progress=True) -> ModelInfo     build the artifact deterministically
#   create_app(settings) -> FastAPI                  the instrumented service
#   workload(scenario: str, seed: int)               traffic for `mlobs traffic`
# The drift exporter has no model: it provides only create_app(settings).
SERVICES: dict[str, str] = {
    "sentiment": "mlobs_services.sentiment.service",
    "credit": "mlobs_services.credit.service",
    "vision": "mlobs_services.vision.service",
    "drift-exporter": "mlobs.drift.exporter",
    "audit-witness": "mlobs.audit.witness.service",
}


def service_names() -> list[str]:
    return sorted(SERVICES)


def load(name: str) -> ModuleType:
    try:
        module = SERVICES[name]
    except KeyError:
        raise SystemExit(f"unknown service {name!r}; choose one of: {', '.join(service_names())}") from None
    return importlib.import_module(module)
