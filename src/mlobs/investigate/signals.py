"""The PromQL an investigation runs, built from the metric catalogs and the SLO definitions.

Each signal is one query per service over the investigation's grid. Nothing here depends on
recording rules, so an investigation also works on a Prometheus that never loaded the generated rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mlobs import catalog
from mlobs.catalog import Metric
from mlobs.drift import catalog as drift_catalog
from mlobs.stackgen import config
from mlobs.stackgen.promql import match, quote, sel
from mlobs.stackgen.slo import SLO
from mlobs.stackgen.slos import AVAILABILITY, PREDICT_LATENCY

HTTP = catalog.HTTP_REQUEST_DURATION
CONFIDENCE = catalog.PREDICTION_CONFIDENCE
FEEDBACK = catalog.FEEDBACK
VERSION = catalog.MODEL_VERSION
# Detectors that test the model's outputs (the alerts' list); every other detector tests its inputs.
OUTPUT_DETECTORS = config.OUTPUT_DETECTORS
# Exported by the drift exporter when it estimates accuracy without labels; absent otherwise.
ESTIMATED_ACCURACY = "mlobs_estimated_accuracy"


@dataclass(frozen=True)
class Signals:
    """Every query for one service; `w` is the rate() range of one point of the grid."""

    service: str
    w: str

    def _of(self, metric: Metric, series: str, *matchers: str) -> str:
        return sel(series, match(metric, catalog.SERVICE, self.service), *matchers)

    def _rate(self, metric: Metric, series: str, *matchers: str, by: str = "") -> str:
        grouping = f" by ({by})" if by else ""
        return f"sum{grouping} (rate({self._of(metric, series, *matchers)}[{self.w}]))"

    def _slo(self, slo: SLO) -> str:
        """The SLO's own error ratio, narrowed to this service."""
        narrowed = replace(slo, selectors=(*slo.selectors, match(HTTP, catalog.SERVICE, self.service)))
        return narrowed.error_ratio_expr(self.w)

    # Breach signals, each "higher is worse".
    def latency_error_ratio(self) -> str:
        return self._slo(PREDICT_LATENCY)

    def error_ratio_5xx(self) -> str:
        return self._slo(AVAILABILITY)

    def online_error_rate(self, by: str = "") -> str:
        wrong = match(FEEDBACK, catalog.FEEDBACK.labels[-1], catalog.OUTCOME_INCORRECT)
        return (f"({self._rate(FEEDBACK, FEEDBACK.total, wrong, by=by)} or 0 * "
                f"{self._rate(FEEDBACK, FEEDBACK.total, by=by)}) / {self._rate(FEEDBACK, FEEDBACK.total, by=by)}")

    def feedback_counts(self, over: str) -> tuple[str, str]:
        """(incorrect, all) feedback counted over the `over` before the query's time."""
        wrong = match(FEEDBACK, catalog.FEEDBACK.labels[-1], catalog.OUTCOME_INCORRECT)
        return (f"sum(increase({self._of(FEEDBACK, FEEDBACK.total, wrong)}[{over}]))",
                f"sum(increase({self._of(FEEDBACK, FEEDBACK.total)}[{over}]))")

    def estimated_error_rate(self) -> str:
        return f"1 - min({ESTIMATED_ACCURACY}{{{catalog.SERVICE}={quote(self.service)}}})"

    def predict_rate(self, by: str = "") -> str:
        return self._rate(HTTP, HTTP.count, match(HTTP, "route", config.PREDICT_ROUTE), by=by)

    # Pipeline.
    def rejected_rate_by_reason(self) -> str:
        return self._rate(catalog.REJECTED_INPUTS, catalog.REJECTED_INPUTS.total, by="reason")

    def feedback_rate(self) -> str:
        return self._rate(FEEDBACK, FEEDBACK.total)

    def drift_samples_dropped_rate(self) -> str:
        dropped = drift_catalog.DRIFT_SAMPLES_DROPPED
        return self._rate(dropped, dropped.total)

    def scrape_up(self) -> str:
        return f"max(up{{job={quote(self.service)}}})"

    def targets_up(self) -> str:
        """`up` of each target of the service's scrape job."""
        return f"up{{job={quote(self.service)}}}"

    # Drift.
    def drift_detected(self) -> str:
        detected = drift_catalog.DRIFT_DETECTED
        return (f"max by ({drift_catalog.DETECTOR}, {drift_catalog.FEATURE}) "
                f"({self._of(detected, detected.name)})")

    # Class mix estimated without labels by the drift exporter (absent for versions without held-out labels).
    def prior_shift_explains(self) -> str:
        """1 while the exporter finds the input drift explained by the estimated class mix alone."""
        explains = drift_catalog.PRIOR_SHIFT_EXPLAINS_INPUT
        return f"max({self._of(explains, explains.name)})"

    def estimated_class_share(self) -> str:
        share = drift_catalog.ESTIMATED_CLASS_SHARE
        return f"avg by ({drift_catalog.CLASS}) ({self._of(share, share.name)})"

    def reference_class_share(self) -> str:
        share = drift_catalog.REFERENCE_CLASS_SHARE
        return f"avg by ({drift_catalog.CLASS}) ({self._of(share, share.name)})"

    # Outputs.
    def class_share(self) -> str:
        """Each predicted class's share of the predictions (one series per class)."""
        predictions, cls = catalog.PREDICTIONS, catalog.PREDICTIONS.labels[-1]
        return (f"{self._rate(predictions, predictions.total, by=cls)} / ignoring ({cls}) group_left "
                f"{self._rate(predictions, predictions.total)}")

    def class_rate(self) -> str:
        return self._rate(catalog.PREDICTIONS, catalog.PREDICTIONS.total, by=catalog.PREDICTIONS.labels[-1])

    def mean_confidence(self) -> str:
        return f"{self._rate(CONFIDENCE, CONFIDENCE.sum)} / {self._rate(CONFIDENCE, CONFIDENCE.count)}"

    # Versions.
    def versions_in_service(self) -> str:
        """One series per model and version: a service may serve several models, each with its own versions."""
        return f"count by ({catalog.MODEL}, {VERSION}) ({self._of(catalog.MODEL_INFO, catalog.MODEL_INFO.name)})"

    def cpu_per_prediction(self, by: str = VERSION) -> str:
        cpu, predictions = catalog.INFERENCE_CPU, catalog.PREDICTIONS
        return f"{self._rate(cpu, cpu.total, by=by)} / {self._rate(predictions, predictions.total, by=by)}"

    # Serving.
    def p99_latency(self) -> str:
        return (f"histogram_quantile(0.99, "
                f"{self._rate(HTTP, HTTP.bucket, match(HTTP, 'route', config.PREDICT_ROUTE), by='le')})")

    def telemetry_dropped_rate(self) -> str:
        return self._rate(catalog.TELEMETRY_DROPPED, catalog.TELEMETRY_DROPPED.total)

    def audit_refused_share(self) -> str:
        """Of the decisions the audit log was given, the share it could not make durable (each a 503)."""
        refused = self._rate(catalog.AUDIT_UNAVAILABLE, catalog.AUDIT_UNAVAILABLE.total)
        return f"{refused} / ({refused} + {self._rate(catalog.AUDIT_RECORDS, catalog.AUDIT_RECORDS.total)})"
