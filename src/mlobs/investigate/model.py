"""What an investigation finds: the breach, and one finding per hypothesis with its evidence."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mlobs.investigate.coverage import Gap

# Hypotheses in the order an investigation tests them; on a tie, the earlier one explains the later
# (a pipeline artifact makes inputs drift, a new version or drifting inputs move the outputs).
HYPOTHESES = ("pipeline", "model_version", "input_drift", "output_shift", "serving")
TITLES = {
    "pipeline": "data-pipeline artifact",
    "input_drift": "input drift",
    "output_shift": "output shift",
    "model_version": "model version change",
    "serving": "serving (latency, errors)",
}
# A finding at or above this score is a cause; below it, evidence only.
CAUSE_SCORE = 0.5


@dataclass(frozen=True)
class Evidence:
    text: str
    promql: str
    score: float


@dataclass
class Finding:
    key: str
    score: float = 0.0
    evidence: list[Evidence] = field(default_factory=list)
    dashboard: str = ""

    @property
    def title(self) -> str:
        return TITLES[self.key]

    def add(self, text: str, promql: str, score: float) -> None:
        self.evidence.append(Evidence(text, promql, round(min(max(score, 0.0), 1.0), 3)))
        self.score = max(self.score, self.evidence[-1].score)


@dataclass(frozen=True)
class Breach:
    signal: str     # "online-accuracy", "predict-latency", ...
    onset: float    # unix seconds
    before: float
    after: float
    severity: float  # how far past its threshold the change is (1 = at the threshold)
    text: str
    promql: str
    # Past its threshold from the first point with data, with no change to date it from: nothing before it
    # to compare with, so no hypothesis can be tested.
    throughout: bool = False


@dataclass
class Report:
    service: str
    start: float
    end: float
    breach: Breach | None
    findings: list[Finding]
    queries: int
    seconds: float
    # The start asked for, when the range had to reach further back to see what the breach broke from.
    asked_start: float | None = None
    # Why the data cannot answer, when it cannot (said in place of a cause).
    unanswered: str = ""
    # Spans in which Prometheus scraped no target of the service's job, or one target of several.
    unscraped: list[Gap] = field(default_factory=list)

    @property
    def causes(self) -> list[Finding]:
        return [f for f in self.findings if f.score >= CAUSE_SCORE]

    def as_json(self) -> dict:
        out = asdict(self)
        out["causes"] = [f.key for f in self.causes]
        return out
