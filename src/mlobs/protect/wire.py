"""protect(app, settings, telemetry): endpoint protection for an instrumented FastAPI app in one call."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.middleware import Middleware

from mlobs.protect.canonical import input_digest
from mlobs.protect.client import current_client
from mlobs.protect.events import audit_listener
from mlobs.protect.metrics import DiversityCollector, ProtectMetrics
from mlobs.protect.middleware import ProtectMiddleware
from mlobs.protect.openapi import declare_error_responses
from mlobs.protect.protection import Protection
from mlobs.protect.settings import ProtectSettings
from mlobs.protect.workers import FairPool

log = logging.getLogger("mlobs.protect")
MULTIPART_OVERHEAD = 64 * 1024


def image_body_limits(settings) -> dict[str, int]:
    """Body limits for an image service: one image, or a multipart batch of them."""
    return {"image/png": settings.max_image_bytes, "image/jpeg": settings.max_image_bytes,
            "multipart/form-data": settings.max_image_bytes * settings.max_batch + MULTIPART_OVERHEAD}


def reference_scorer(settings, model):
    """The OOD scorer of this model version, from its drift reference; None (logged) without one."""
    # numpy: imported here so that `import mlobs.settings` (which names ProtectSettings) stays light.
    from mlobs.drift.reference import load_reference, reference_dir
    from mlobs.protect.ood import scorer_from_reference

    try:
        reference = load_reference(reference_dir(settings.artifacts_dir, model.name, model.version))
        return scorer_from_reference(reference)
    except (FileNotFoundError, ValueError) as exc:
        log.warning("no OOD scoring for %s %s: %s", model.name, model.version, exc)
        return None


def protect(app: FastAPI, settings, telemetry, *, protect_settings: ProtectSettings | None = None,
            body_limits: dict[str, int] | None = None, scorer="reference") -> Protection | None:
    """Add ProtectMiddleware inside the telemetry middleware (so refusals are measured and traced),
    and score every sample the service ships (telemetry.ship) for out-of-distribution inputs.

    `settings` is the process Settings (limits, artifacts); `protect_settings` defaults to
    `settings.protect`. `scorer`: "reference" (from the drift reference), None, or an object with
    `score(sample) -> float | None`. Returns the Protection (also `app.state.protection`).
    """
    ps = protect_settings if protect_settings is not None else getattr(settings, "protect", ProtectSettings())
    if not ps.enabled:
        log.warning("endpoint protection is disabled (MLOBS_PROTECT__ENABLED=false)")
        return None
    if app.middleware_stack is not None:
        raise RuntimeError("protect() must be called before the app starts")
    model = telemetry.model
    metrics = ProtectMetrics(telemetry.registry, telemetry.service, (telemetry.service, model.name, model.version))
    if scorer == "reference":
        scorer = reference_scorer(settings, model)
    protection = Protection(ps, metrics, default_body_bytes=settings.max_body_bytes, body_limits=body_limits,
                            scorer=scorer)
    protection.count_rejected = lambda reason: telemetry.metrics.rejected(reason).inc()
    telemetry.registry.register(DiversityCollector(telemetry.service, protection.sketches))
    # Appended: the innermost user middleware, inside TelemetryMiddleware whenever that was added.
    app.user_middleware.append(Middleware(ProtectMiddleware, protection=protection))
    _score_shipped_samples(telemetry, protection)
    _share_workers(telemetry, settings, ps, metrics)
    declare_error_responses(app)
    app.state.protection = protection
    return protection


def attach_audit(protection: Protection | None, decisions) -> None:
    """Record security events in the service's audit log (a mlobs.decisions.DecisionLog), if both exist."""
    if protection is not None and decisions is not None:
        protection.events.subscribe(audit_listener(decisions.audit, decisions.service, decisions.model))


def _score_shipped_samples(telemetry, protection: Protection) -> None:
    ship = telemetry.ship

    def ship_and_score(sample: dict) -> None:
        protection.observe_sample(sample)
        digest = input_digest(sample)
        if digest is not None:
            protection.saw_input(current_client.get(), digest)
        ship(sample)

    telemetry.ship = ship_and_score


def _share_workers(telemetry, settings, ps: ProtectSettings, metrics: ProtectMetrics) -> None:
    """Large requests run on a worker pool shared fairly between clients (mlobs.protect.workers)."""
    previous = getattr(telemetry, "runner", None)
    if previous is not None:
        previous.shutdown()
    telemetry.runner = FairPool.from_settings(ps, getattr(settings, "inference_timeout_s", None),
                                              on_busy=lambda client: metrics.limited(client, "workers").inc())
