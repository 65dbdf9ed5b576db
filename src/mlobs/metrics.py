"""Prometheus instruments for one model service, made from the catalog."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from mlobs import catalog
from mlobs.catalog import Metric
from mlobs.model_info import ModelInfo

_KINDS = {"counter": Counter, "histogram": Histogram, "gauge": Gauge}


def make(metric: Metric, registry: CollectorRegistry) -> MetricWrapperBase:
    kwargs = {"buckets": metric.buckets} if metric.buckets else {}
    return _KINDS[metric.kind](metric.name, metric.help, metric.labels, registry=registry, **kwargs)


class ServiceMetrics:
    """The instruments of one service serving one model version, with label children bound once."""

    def __init__(self, registry: CollectorRegistry, service: str, model: ModelInfo):
        self.registry = registry
        self.service = service
        self.model_labels = (service, model.name, model.version)
        self._http = make(catalog.HTTP_REQUEST_DURATION, registry)
        self._predictions = make(catalog.PREDICTIONS, registry)
        self._feedback = make(catalog.FEEDBACK, registry)
        self._rejected = make(catalog.REJECTED_INPUTS, registry)
        self._dropped = make(catalog.TELEMETRY_DROPPED, registry)
        self.inference = make(catalog.INFERENCE_DURATION, registry).labels(*self.model_labels)
        self.confidence = make(catalog.PREDICTION_CONFIDENCE, registry).labels(*self.model_labels)
        make(catalog.MODEL_INFO, registry).labels(
            *self.model_labels, model.training_data_hash, model.code_revision
        ).set(1)
        # Children are looked up once per label set: a .labels() call costs more than the observation.
        self._http_children: dict[tuple, object] = {}
        self._prediction_children = {c: self._predictions.labels(*self.model_labels, c) for c in model.classes}
        for outcome in (catalog.OUTCOME_CORRECT, catalog.OUTCOME_INCORRECT):
            self._feedback.labels(*self.model_labels, outcome)

    def http(self, method: str, route: str, status: int):
        key = (method, route, status)
        child = self._http_children.get(key)
        if child is None:
            child = self._http_children[key] = self._http.labels(*self.model_labels, method, route, str(status))
        return child

    def prediction(self, cls: str):
        child = self._prediction_children.get(cls)
        if child is None:
            child = self._prediction_children[cls] = self._predictions.labels(*self.model_labels, cls)
        return child

    def feedback(self, outcome: str):
        return self._feedback.labels(*self.model_labels, outcome)

    def rejected(self, reason: str):
        return self._rejected.labels(*self.model_labels, reason)

    def dropped(self, signal: str):
        return self._dropped.labels(self.service, signal)
