"""Prometheus instruments for one model service, made from the catalog."""

from __future__ import annotations

import threading
import weakref

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from mlobs import catalog
from mlobs.catalog import Metric
from mlobs.client_cost import ClientCost
from mlobs.model_info import ModelInfo

_KINDS = {"counter": Counter, "histogram": Histogram, "gauge": Gauge}
# The `class` label of a prediction outside the model's declared classes, or past the first
# MAX_UNDECLARED_CLASSES when it declares none.
OTHER_CLASS = "_other"
MAX_UNDECLARED_CLASSES = 100


# What make() registered, per registry: a second app (or a second instrument() of one app) in the
# same process shares the families on a shared registry such as prometheus_client's REGISTRY;
# its series differ by the service and model labels.
_made: "weakref.WeakKeyDictionary[CollectorRegistry, dict[str, MetricWrapperBase]]" = weakref.WeakKeyDictionary()
_made_lock = threading.Lock()


def make(metric: Metric, registry: CollectorRegistry) -> MetricWrapperBase:
    with _made_lock:
        made = _made.setdefault(registry, {})
        existing = made.get(metric.name)
        if existing is not None:
            if tuple(existing._labelnames) != tuple(metric.labels) or existing._type != metric.kind:
                raise ValueError(f"{metric.name} is already registered with other labels or type")
            return existing
        kwargs = {"buckets": metric.buckets} if metric.buckets else {}
        made[metric.name] = collector = _KINDS[metric.kind](
            metric.name, metric.help, metric.labels, registry=registry, **kwargs)
        return collector


class ServiceMetrics:
    """The instruments of one service serving one model version, with label children bound once."""

    def __init__(self, registry: CollectorRegistry, service: str, model: ModelInfo, client_top_n: int = 10):
        self.registry = registry
        self.service = service
        self.model_labels = (service, model.name, model.version)
        self._http = make(catalog.HTTP_REQUEST_DURATION, registry)
        self._predictions = make(catalog.PREDICTIONS, registry)
        self._feedback = make(catalog.FEEDBACK, registry)
        self._rejected = make(catalog.REJECTED_INPUTS, registry)
        self._dropped = make(catalog.TELEMETRY_DROPPED, registry)
        self.inference = make(catalog.INFERENCE_DURATION, registry).labels(*self.model_labels)
        self.inference_cpu = make(catalog.INFERENCE_CPU, registry).labels(*self.model_labels)
        self.client_cpu = ClientCost(make(catalog.CLIENT_INFERENCE_CPU, registry), self.model_labels, client_top_n)
        self.confidence = make(catalog.PREDICTION_CONFIDENCE, registry).labels(*self.model_labels)
        make(catalog.MODEL_INFO, registry).labels(
            *self.model_labels, model.training_data_hash, model.code_revision
        ).set(1)
        # Children are looked up once per label set: a .labels() call costs more than the observation.
        self._http_children: dict[tuple, object] = {}
        self._prediction_children = {c: self._predictions.labels(*self.model_labels, c) for c in model.classes}
        # Declared classes bound the label; without them, the first MAX_UNDECLARED_CLASSES seen do.
        self._classes_declared = bool(model.classes)
        self._class_series = 0  # series made for classes seen (not declared)
        for outcome in (catalog.OUTCOME_CORRECT, catalog.OUTCOME_INCORRECT):
            self._feedback.labels(*self.model_labels, outcome)

    def charge_cpu(self, seconds: float) -> None:
        """Inference CPU: by model version, and by the client of the request being served."""
        self.inference_cpu.inc(seconds)
        self.client_cpu.charge(seconds)

    def http(self, method: str, route: str, status: int):
        key = (method, route, status)
        child = self._http_children.get(key)
        if child is None:
            child = self._http_children[key] = self._http.labels(*self.model_labels, method, route, str(status))
        return child

    def prediction(self, cls: str):
        children = self._prediction_children
        child = children.get(cls)
        if child is None:
            name = str(cls)  # a model may return 1 for its class "1"
            child = children.get(name)
            if child is not None:
                children[cls] = child
            elif self._classes_declared or self._class_series >= MAX_UNDECLARED_CLASSES:
                # A value outside the model's classes (an open vocabulary, an echoed input) must
                # not add a series per value.
                child = children.get(OTHER_CLASS)
                if child is None:
                    child = children[OTHER_CLASS] = self._predictions.labels(*self.model_labels, OTHER_CLASS)
            else:
                child = children[name] = self._predictions.labels(*self.model_labels, name)
                self._class_series += 1
        return child

    def feedback(self, outcome: str):
        return self._feedback.labels(*self.model_labels, outcome)

    def rejected(self, reason: str):
        return self._rejected.labels(*self.model_labels, reason)

    def dropped(self, signal: str):
        return self._dropped.labels(self.service, signal)
