"""A service's decisions in the audit log: answered only once durable, a 503 otherwise."""

from __future__ import annotations

import logging
import time

from mlobs import catalog
from mlobs.audit import AuditLog, AuditUnavailable, Decision, Receipt, volumes
from mlobs.audit.http import audit_router
from mlobs.audit.tree_log import IntegrityFailure
from mlobs.audit.record import new_decision_id
from mlobs.errors import Unavailable
from mlobs.lifespan import around_lifespan
from mlobs.logs import span_ids
from mlobs.metrics import make
from mlobs.model_info import ModelInfo
from mlobs.protect import attach_audit
from mlobs.settings import Settings

log = logging.getLogger("mlobs.decisions")


class DecisionLog:
    def __init__(self, audit: AuditLog, service: str, model: ModelInfo, registry=None):
        self.audit = audit
        self.service = service
        self.model = model
        labels = (service, model.name, model.version)
        self._records = self._unavailable = self._duration = self._integrity = None
        if registry is not None:
            self._records = make(catalog.AUDIT_RECORDS, registry).labels(*labels)
            self._unavailable = make(catalog.AUDIT_UNAVAILABLE, registry).labels(*labels)
            self._duration = make(catalog.AUDIT_APPEND_DURATION, registry).labels(*labels)
            self._integrity = make(catalog.AUDIT_INTEGRITY_FAILURES, registry).labels(*labels)
            volumes.export(registry, service, volumes.store_dirs(audit.settings))
            make(catalog.AUDIT_RAW_OLDEST_AGE, registry).labels(service).set_function(audit.raw_oldest_age_s)
            make(catalog.AUDIT_CLOCK_STEP, registry).labels(service).set_function(audit.clock_step_s)
            make(catalog.AUDIT_RAW_RETENTION, registry).labels(service).set(audit.settings.raw_retention_days * 86400)

    async def record(self, *, output, subject: str | None = None, inputs: dict | None = None,
                     personal: dict | None = None, outcome: str | None = None, reason_codes=(),
                     raw=None, latency_ms: float | None = None, decision_id: str | None = None,
                     model_inputs: dict | None = None, artifact_sha256: str | None = None) -> Receipt:
        """`inputs` stay in clear: coarse, minimised fields only. `personal` and `model_inputs` (the
        exact inputs, what replay recomputes from) are encrypted under the subject's key."""
        decision = Decision(
            service=self.service, model=self.model.name, model_version=self.model.version, output=output,
            decision_id=decision_id or new_decision_id(),
            subject=subject, inputs=inputs or {}, personal=personal, outcome=outcome,
            reason_codes=list(reason_codes), latency_ms=latency_ms, trace_id=span_ids()[0], raw=raw,
            model_inputs=model_inputs, artifact_sha256=artifact_sha256,
        )
        start = time.perf_counter()
        try:
            receipt = await self.audit.append_async(decision)
        except AuditUnavailable as exc:
            if self._unavailable is not None:
                self._unavailable.inc()
                if isinstance(exc, IntegrityFailure):
                    self._integrity.inc()
            log.error("audit log unavailable, decision refused: %s", exc)
            raise Unavailable("audit_unavailable", "the decision could not be recorded; retry later") from None
        if self._records is not None:
            self._records.inc()
            self._duration.observe(time.perf_counter() - start)
        return receipt

    def close(self) -> None:
        self.audit.close()


def open_decision_log(settings: Settings, telemetry, model: ModelInfo, app=None) -> DecisionLog | None:
    """The audit log of this process, or None when MLOBS_AUDIT__ENABLED=false. With `app`, it is
    closed at shutdown and the app's endpoint protection records its security events in it."""
    if not settings.audit.enabled:
        return None
    # One chain for every service of a deployment: the stores serialise writers across processes.
    service = getattr(telemetry, "service", model.name)
    audit = AuditLog.open(settings)
    audit.start_purging()
    registry = getattr(telemetry, "registry", None)
    decisions = DecisionLog(audit, service, model, registry)
    if app is not None:
        app.state.decisions = decisions
        around_lifespan(app, shutdown=decisions.close)
        app.include_router(audit_router(audit.settings.store_url, audit.settings.witness_token,
                                        audit.settings.store_timeout_s))
        attach_audit(getattr(app.state, "protection", None), decisions)
    return decisions
