"""Synthetic metric histories of one model service, written as OpenMetrics with timestamps.

`promtool tsdb create-blocks-from openmetrics` turns them into blocks a real Prometheus serves, so an
investigation runs its real PromQL over a known past: steady traffic, then one injected cause at the
onset. Series names and labels come from the catalogs, as the services emit them.
"""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from mlobs import catalog
from mlobs.drift import catalog as drift_catalog

STEP = 15.0
# A history: normal traffic, the injected cause at ONSET_MINUTE, and time after it to see the effect.
MINUTES, ONSET_MINUTE = 170, 120
HTTP = catalog.HTTP_REQUEST_DURATION


@dataclass(frozen=True)
class State:
    """What the service does at one moment."""

    version: str = "v1"
    rate: float = 5.0                 # /predict requests per second
    latency_median: float = 0.030     # seconds, lognormal
    latency_sigma: float = 0.35
    error_5xx: float = 0.0
    classes: tuple[tuple[str, float], ...] = (("approve", 0.7), ("decline", 0.3))
    confidence: float = 0.86
    accuracy: float = 0.90
    feedback_share: float = 0.5       # feedback per prediction
    cpu_per_prediction: float = 0.0005  # seconds of inference CPU
    rejected: tuple[tuple[str, float], ...] = (("wrong_type", 0.002),)  # reason, share of requests
    drift: tuple[tuple[str, str, bool], ...] = (("tabular_ks", "income", False), ("softmax_ks", "all", False))
    scraped: bool = True
    audited: bool = False             # every answered decision is in the audit log
    audit_refused: float = 0.0        # share of requests the audit log refused (503s, within error_5xx)
    # The drift exporter's class-prior verdict (None: the version has no held-out labels, nothing exported):
    # whether the input drift is what the class mix, estimated as `classes`, alone gives.
    prior_explains: bool | None = None


@dataclass
class History:
    service: str
    start: float
    minutes: int
    onset_minute: int
    before: State
    after: State
    started_minute: int = 0  # the service is not there (nor scraped) before this minute
    lines: dict[str, list[str]] = field(default_factory=dict)

    @property
    def onset(self) -> float:
        return self.start + self.onset_minute * 60

    def state(self, t: float) -> State:
        if t < self.start + self.started_minute * 60:
            return replace(self.before, scraped=False)
        return self.after if t >= self.onset else self.before

    def openmetrics(self) -> str:
        out = Writer()
        n = int(self.minutes * 60 / STEP)
        for i in range(n + 1):
            t = self.start + i * STEP
            s = self.state(t)
            if s.scraped:
                emit_moment(out, self.service, s, t)
        return out.text()

    def write_blocks(self, data_dir: Path) -> None:
        source = data_dir.parent / f"{self.service}.om"
        source.write_text(self.openmetrics())
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
                       check=True, capture_output=True)


class Writer:
    """OpenMetrics with timestamps: counters accumulate what each moment adds, until their process restarts."""

    def __init__(self):
        self.totals: dict[tuple, float] = {}
        self.families: dict[str, tuple[str, dict[tuple, list[str]]]] = {}

    def emit(self, family, kind, name, labels, t, value, counter=True):
        key = (name, tuple(sorted(labels.items())))
        if counter:
            self.totals[key] = self.totals.get(key, 0.0) + value
            value = self.totals[key]
        rows = self.families.setdefault(family, (kind, {}))[1].setdefault(key, [])
        text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
        rows.append(f"{name}{{{text}}} {value:.6f} {t:.3f}")

    def restart(self, **labels) -> None:
        """The process whose series carry these labels restarted: its counters start again from zero."""
        for key in [k for k in self.totals if set(labels.items()) <= set(k[1])]:
            del self.totals[key]

    def text(self) -> str:
        out = []
        for family, (kind, series) in self.families.items():
            out.append(f"# TYPE {family} {kind}")
            for rows in series.values():
                out.extend(rows)
        return "\n".join(out) + "\n# EOF\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def emit_moment(out: Writer, service: str, s: State, t: float, instance: str = "svc:8000") -> None:
    """What one scrape of one process of `service` in state `s` adds at time `t`."""
    # Prometheus adds the target's job and instance to every series it scrapes.
    base = {"service": service, "model": service, "model_version": s.version, "job": service,
            "instance": instance}
    requests = s.rate * STEP
    for status, share in (("200", 1 - s.error_5xx), ("500", s.error_5xx)):
        labels = {**base, "method": "POST", "route": "/predict", "status": status}
        count = requests * share
        for le in (*HTTP.buckets, math.inf):
            below = 1.0 if le == math.inf else _lognormal_cdf(le, s.latency_median, s.latency_sigma)
            out.emit(HTTP.name, "histogram", f"{HTTP.name}_bucket",
                     {**labels, "le": "+Inf" if le == math.inf else repr(float(le))}, t, count * below)
        out.emit(HTTP.name, "histogram", f"{HTTP.name}_count", labels, t, count)
        out.emit(HTTP.name, "histogram", f"{HTTP.name}_sum", labels, t, count * s.latency_median)
    served = requests * (1 - s.error_5xx)
    for cls, share in s.classes:
        out.emit(catalog.PREDICTIONS.name, "counter", catalog.PREDICTIONS.total, {**base, "class": cls}, t,
                 served * share)
    out.emit(catalog.INFERENCE_CPU.name, "counter", catalog.INFERENCE_CPU.total, base, t,
             served * s.cpu_per_prediction)
    if s.audited:
        out.emit(catalog.AUDIT_RECORDS.name, "counter", catalog.AUDIT_RECORDS.total, base, t, served)
        out.emit(catalog.AUDIT_UNAVAILABLE.name, "counter", catalog.AUDIT_UNAVAILABLE.total, base, t,
                 requests * s.audit_refused)
    conf = catalog.PREDICTION_CONFIDENCE.name
    out.emit(conf, "histogram", f"{conf}_bucket", {**base, "le": "+Inf"}, t, served)
    out.emit(conf, "histogram", f"{conf}_count", base, t, served)
    out.emit(conf, "histogram", f"{conf}_sum", base, t, served * s.confidence)
    feedback = served * s.feedback_share
    for outcome, share in (("correct", s.accuracy), ("incorrect", 1 - s.accuracy)):
        out.emit(catalog.FEEDBACK.name, "counter", catalog.FEEDBACK.total, {**base, "outcome": outcome}, t,
                 feedback * share)
    for reason, share in s.rejected:
        out.emit(catalog.REJECTED_INPUTS.name, "counter", catalog.REJECTED_INPUTS.total,
                 {**base, "reason": reason}, t, requests * share)
    out.emit(catalog.MODEL_INFO.name, "gauge", catalog.MODEL_INFO.name,
             {**base, "training_data_hash": "h", "code_revision": "r"}, t, 1.0, counter=False)
    for detector, feature, flagged in s.drift:
        out.emit(drift_catalog.DRIFT_DETECTED.name, "gauge", drift_catalog.DRIFT_DETECTED.name,
                 {**base, "detector": detector, "feature": feature}, t, float(flagged), counter=False)
    if s.prior_explains is not None:
        explains = drift_catalog.PRIOR_SHIFT_EXPLAINS_INPUT.name
        out.emit(explains, "gauge", explains, base, t, float(s.prior_explains), counter=False)
        for cls, share in s.classes:
            estimated = drift_catalog.ESTIMATED_CLASS_SHARE.name
            out.emit(estimated, "gauge", estimated, {**base, "class": cls}, t, share, counter=False)
    out.emit("up", "gauge", "up", {"job": service, "instance": instance}, t, 1.0, counter=False)


def _lognormal_cdf(x: float, median: float, sigma: float) -> float:
    return 0.5 * (1 + math.erf((math.log(x) - math.log(median)) / (sigma * math.sqrt(2))))


CREDIT = State(prior_explains=False, audited=True)
VISION = State(rate=8.0, latency_median=0.012, confidence=0.95, accuracy=0.97,
               classes=tuple((str(d), 0.1) for d in range(10)), rejected=(("not_an_image", 0.001),),
               drift=(("image_stats", "mean", False), ("embedding_mmd", "all", False), ("softmax_ks", "all", False)))


def _drifted(base: State, inputs: bool, outputs: bool) -> tuple[tuple[str, str, bool], ...]:
    return tuple((d, f, (outputs if d == "softmax_ks" else inputs)) for d, f, _ in base.drift)


def _prior_shift(base: State) -> tuple[tuple[str, float], ...]:
    """The first class takes half the traffic; the rest share the other half in their old proportions."""
    rest = sum(share for _, share in base.classes[1:])
    return ((base.classes[0][0], 0.5),) + tuple((c, 0.5 * share / rest) for c, share in base.classes[1:])


# The scenarios: each injects one cause at the onset and says which hypothesis should come first.
def scenarios(base: State) -> dict[str, tuple[State, str | None]]:
    first, second = base.classes[0][0], base.classes[1][0]
    moved = min(0.15, base.classes[0][1] * 0.8)  # share of predictions a bad version moves between two classes
    explained = {}
    if base.prior_explains is not None:
        # Defaulters' inputs move and the model is less sure of itself, as under a covariate shift: only
        # the exporter's estimate tells them apart.
        explained["class-prior shift the model is less sure of"] = (replace(
            base, classes=_prior_shift(base), accuracy=base.accuracy - 0.04, confidence=base.confidence - 0.045,
            prior_explains=True, drift=_drifted(base, inputs=True, outputs=True)), "output_shift")
    return {
        "clean": (base, None),
        "upstream outage drops a field": (replace(
            base, rate=base.rate * 0.4, rejected=(("wrong_type", 0.002), ("missing_field", 0.45))), "pipeline"),
        "input drift": (replace(
            base, accuracy=base.accuracy - 0.08, confidence=base.confidence - 0.07,
            drift=_drifted(base, inputs=True, outputs=True)), "input_drift"),
        "class-prior shift": (replace(
            base, classes=_prior_shift(base), accuracy=base.accuracy - 0.04,
            drift=_drifted(base, inputs=True, outputs=True)), "output_shift"),
        "bad model version": (replace(
            base, version="v2", accuracy=base.accuracy - 0.12, confidence=base.confidence - 0.01,
            cpu_per_prediction=base.cpu_per_prediction * 1.3,
            classes=((first, base.classes[0][1] - moved), (second, base.classes[1][1] + moved)) + base.classes[2:]),
            "model_version"),
        "latency fault": (replace(base, latency_median=0.16, latency_sigma=0.5), "serving"),
        **explained,
        **({"audit log volume full": (replace(base, error_5xx=0.3, audit_refused=0.3), "serving")}
           if base.audited else {}),
    }
