"""Protection: the state behind ProtectMiddleware (keys, limits, sketches, metrics, events, OOD)."""

from __future__ import annotations

import logging
import time

from mlobs import semconv
from mlobs.protect.client import current_client
from mlobs.protect.events import SecurityEvents
from mlobs.protect.keys import ANONYMOUS, ApiKeys, presented_keys
from mlobs.protect.limits import ClientLimits
from mlobs.protect.metrics import ProtectMetrics
from mlobs.protect.safe import safe_path
from mlobs.protect.settings import ProtectSettings
from mlobs.protect.sketch import Diversity
from mlobs.protect.sources import source
from mlobs.protect.throttle import AuthThrottle

log = logging.getLogger("mlobs.protect")


class Protection:
    def __init__(self, settings: ProtectSettings, metrics: ProtectMetrics, *, default_body_bytes: int,
                 body_limits: dict[str, int] | None = None, scorer=None, keys: ApiKeys | None = None,
                 clock=time.monotonic):
        self.settings = settings
        self.metrics = metrics
        self.keys = keys if keys is not None else ApiKeys.from_settings(settings)
        if settings.auth == "required" and not self.keys:
            raise ValueError("MLOBS_PROTECT__AUTH=required but no API keys are configured "
                             "(MLOBS_PROTECT__API_KEYS_FILE or MLOBS_PROTECT__API_KEYS)")
        self.auth_on = settings.auth != "off" and bool(self.keys)
        metrics.start_at_zero((*self.keys.clients, ANONYMOUS))
        self.limits = ClientLimits(settings.rate_per_s, settings.burst, settings.max_concurrency, clock)
        self.throttle = AuthThrottle(settings.auth_failures_per_address, settings.auth_failure_window_s, clock)
        self.events = SecurityEvents(settings.audit_events_per_s, metrics.event, clock)
        # Oversized or unreadable bodies refused here are rejected inputs like any other: protect()
        # points this at the service's mlobs_rejected_inputs_total.
        self.count_rejected = lambda reason: None
        self.sketches: dict[str, Diversity] = {}
        self._clock = clock
        self.timeout_s = settings.request_timeout_s
        self.default_body_bytes = settings.max_body_bytes or default_body_bytes
        self.body_limits = {k.encode(): v for k, v in (body_limits or {}).items()}
        self.scorer = scorer
        self.ood_threshold = settings.ood_quantile
        if self.auth_on:
            log.info("authentication on: %d API clients configured", len(self.keys.clients))
        else:
            log.warning("authentication OFF (MLOBS_PROTECT__AUTH=%s, %d keys): every caller is %r; "
                        "set MLOBS_PROTECT__AUTH=required in production", settings.auth, len(self.keys.clients),
                        ANONYMOUS)

    # -- on the request path -------------------------------------------------------------------

    def throttled(self, scope) -> int:
        """Retry-After seconds when the request's address has failed authentication too often, else 0."""
        if not self.auth_on:
            return 0
        retry_after = self.throttle.retry_after(self._source(scope))
        if retry_after:
            self.metrics.auth_failure("throttled").inc()
            self.events.emit("auth_throttled", address=_address(scope) or "", method=scope["method"],
                             path=_event_path(scope))
        return retry_after

    def authenticate(self, headers, scope) -> str | None:
        """The client id; None (counted, an event, a failure for the address) when refused.

        Every credential the request carries is considered: any valid one wins, whatever else was
        sent (an `Authorization: Basic` for a proxy does not hide a valid X-API-Key); valid keys of
        two different clients are refused as "conflicting"."""
        if not self.auth_on:
            return ANONYMOUS
        keys, reason = presented_keys(headers)
        clients = {client for client in map(self.keys.client_for, keys) if client is not None}
        if len(clients) == 1:
            return clients.pop()
        reason = "conflicting" if clients else (reason or "invalid")
        self.metrics.auth_failure(reason).inc()
        self.throttle.failed(self._source(scope))
        self.events.emit("auth_failure", reason=reason, method=scope["method"], path=_event_path(scope))
        return None

    def admit(self, client: str) -> tuple[str | None, int]:
        if client == ANONYMOUS and not self.settings.limit_anonymous:
            return None, 0
        limit, retry_after = self.limits.admit(client)
        if limit is not None:
            self.metrics.limited(client, limit).inc()
            self.events.emit("rate_limited", client=client, limit=limit)
        return limit, retry_after

    def release(self, client: str) -> None:
        if client != ANONYMOUS or self.settings.limit_anonymous:
            self.limits.release(client)

    def body_limit(self, headers) -> int:
        for name, value in headers:
            if name == b"content-type":
                return self.body_limits.get(value.split(b";")[0].strip().lower(), self.default_body_bytes)
        return self.default_body_bytes

    def saw_input(self, client: str, digest: int) -> None:
        sketch = self.sketches.get(client)
        if sketch is None:
            sketch = self.sketches[client] = Diversity(self.settings.diversity_window_s, self._clock)
        sketch.add(digest)

    def observe_sample(self, sample: dict) -> float | None:
        """Score one input/output sample (the dict a service ships to drift). Never raises."""
        if self.scorer is None:
            return None
        try:
            score = self.scorer.score(sample)
        except Exception:
            log.exception("OOD scoring failed")
            return None
        if score is not None:
            client = current_client.get()
            self.metrics.ood_score(client).observe(score)
            if score >= self.ood_threshold:
                self.metrics.ood(client).inc()
        return score

    def _source(self, scope) -> str | None:
        """What the failed-authentication throttle counts: the client's address, or its IPv6 network."""
        return source(_address(scope), self.settings.ipv6_source_prefix)


def _address(scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def _event_path(scope) -> str:
    """A path the app serves, as sent and made safe; `unmatched` for any other: an event is also an
    audit record no one can erase, and a path the caller typed may name an applicant."""
    return safe_path(scope) if semconv.served(scope) else semconv.UNMATCHED_ROUTE
