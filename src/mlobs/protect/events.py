"""Security events (auth failures, limit hits): counted always; logged and audited within a budget.

Protection does not need the audit log: a service that has one subscribes `audit_listener(...)`.
A brute-force flood must not flood the audit log or the logs, so events over
`audit_events_per_s` are only counted (audited="false").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from mlobs.protect.limits import TokenBucket
from mlobs.protect.safe import safe_text

log = logging.getLogger("mlobs.protect")
AUDIT_EVENT_TYPE = "security"

Listener = Callable[[dict], bool]  # True when the event was handed to a durable sink


class SecurityEvents:
    def __init__(self, per_s: float, counter=None, clock=time.monotonic):
        self._budget = TokenBucket(per_s, max(1, int(per_s)), clock())
        self._clock = clock
        self._counter = counter  # (kind, audited) -> prometheus child, or None
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, kind: str, **fields) -> None:
        """Never raises. `fields` must hold no key and no personal data.

        The event is structured fields, never text built from them: the log line's message is
        fixed, and every string value is escaped and truncated (mlobs.protect.safe)."""
        audited = False
        if self._budget.take(self._clock()) == 0.0:
            fields = {k: v if isinstance(v, (int, float)) and not isinstance(v, bool) else safe_text(v)
                      for k, v in fields.items()}
            event = {"kind": kind, **fields}
            log.warning("security event", extra={"fields": {"event": kind, **fields}})
            for listener in self._listeners:
                try:
                    audited = bool(listener(event)) or audited
                except Exception:  # a broken sink must not turn a 401 into a 500
                    log.exception("security event listener failed")
        if self._counter is not None:
            self._counter(kind, "true" if audited else "false").inc()


def audit_listener(audit_log, service: str, model) -> Listener:
    """Records each event in `audit_log` (mlobs.audit.AuditLog) without waiting for durability."""
    from mlobs.audit import Decision

    def listener(event: dict) -> bool:
        audit_log.submit(Decision(
            service=service, model=model.name, model_version=model.version, output={"event": event["kind"]},
            outcome=event["kind"], event_type=AUDIT_EVENT_TYPE, details=event,
        ))
        return True

    return listener
