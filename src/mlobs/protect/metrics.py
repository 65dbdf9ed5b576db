"""Prometheus instruments of endpoint protection, made from mlobs.protect.catalog."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from mlobs.metrics import make
from mlobs.protect import catalog

AUTH_FAILURE_REASONS = ("missing", "malformed", "invalid", "conflicting", "throttled")
EVENT_KINDS = ("auth_failure", "auth_throttled", "rate_limited")
LIMITS = ("rate", "concurrency", "workers")
CONNECTION_REFUSALS = ("head_timeout", "body_timeout", "per_address_cap", "bad_framing", "invalid_http")


class ProtectMetrics:
    def __init__(self, registry: CollectorRegistry, service: str, model_labels: tuple[str, str, str]):
        self.service = service
        self.model_labels = model_labels
        self._auth = make(catalog.AUTH_FAILURES, registry)
        self._requests = make(catalog.CLIENT_REQUESTS, registry)
        self._limited = make(catalog.RATE_LIMITED, registry)
        self._timeouts = make(catalog.REQUEST_TIMEOUTS, registry)
        self._ood = make(catalog.OOD_INPUTS, registry)
        self._ood_score = make(catalog.OOD_SCORE, registry)
        self._events = make(catalog.SECURITY_EVENTS, registry)
        self._connections = make(catalog.CONNECTIONS_REFUSED, registry)
        self._children: dict[tuple, object] = {}

    def start_at_zero(self, clients) -> None:
        """Create the refusal series at 0, so "no failures" reads as 0 rather than as no data and a
        rate() over the first failure is not lost."""
        for reason in AUTH_FAILURE_REASONS:
            self.auth_failure(reason)
        for kind in EVENT_KINDS:
            for audited in ("true", "false"):
                self.event(kind, audited)
        for reason in CONNECTION_REFUSALS:
            self.connection_refused(reason)
        for client in clients:
            for limit in LIMITS:
                self.limited(client, limit)

    def _child(self, metric, *labels):
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def auth_failure(self, reason: str):
        return self._child(self._auth, self.service, reason)

    def request(self, client: str, status: int):
        return self._child(self._requests, self.service, client, str(status))

    def limited(self, client: str, limit: str):
        return self._child(self._limited, self.service, client, limit)

    def timeout(self, client: str):
        return self._child(self._timeouts, self.service, client)

    def ood(self, client: str):
        return self._child(self._ood, *self.model_labels, client)

    def ood_score(self, client: str):
        return self._child(self._ood_score, *self.model_labels, client)

    def connection_refused(self, reason: str):
        return self._child(self._connections, self.service, reason)

    def event(self, kind: str, audited: str):
        return self._child(self._events, self.service, kind, audited)


class DiversityCollector:
    """Reads the per-client diversity sketches at scrape time, so requests never pay for an estimate."""

    def __init__(self, service: str, sketches: dict):
        self.service, self.sketches = service, sketches

    def collect(self):
        m, d = catalog.INPUT_DIVERSITY, catalog.DISTINCT_INPUTS
        family = GaugeMetricFamily(m.name, m.help, labels=m.labels)
        distinct = GaugeMetricFamily(d.name, d.help, labels=d.labels)
        for client, sketch in sorted(self.sketches.items()):
            ratio, total = sketch.ratio()
            if total:
                family.add_metric([self.service, client], ratio)
                distinct.add_metric([self.service, client], round(ratio * total))
        yield family
        yield distinct

    def describe(self):
        return []
