"""Rank the findings: the strongest first, and a cause before what it explains.

A pipeline artifact makes inputs drift; a new model version or drifting inputs move the outputs; a
new version can be slower. When both sides of such a pair are present, the explained one is
discounted, so the report leads with the cause rather than its symptom.

Input drift and an output shift together are either a covariate shift (the inputs moved and took
the outputs with them) or a prior shift (more of one class arrives, and the inputs that go with it
move). The drift exporter tells them apart without labels when the model version has held-out labels:
it estimates the class mix from the outputs and tests whether the reference reweighted to that mix
still drifts (`prior_explains`). Without that estimate, a shift in the class mix with steady
confidence is taken for a prior shift, since covariate drift usually makes the model less sure.
"""

from __future__ import annotations

from mlobs.investigate.hypotheses import PRIOR_EXPLAINS
from mlobs.investigate.model import CAUSE_SCORE, HYPOTHESES, Finding

EXPLAINED = 0.75  # the score left to a finding that a stronger cause explains
EXPLAINS = {
    "pipeline": ("input_drift", "output_shift", "serving"),
    "model_version": ("output_shift", "serving", "input_drift"),
}


def rank(findings: list[Finding], notes: dict) -> list[Finding]:
    by_key = {f.key: f for f in findings}
    drift, shift = by_key.get("input_drift"), by_key.get("output_shift")
    if drift and shift and drift.score >= CAUSE_SCORE and shift.score >= CAUSE_SCORE:
        explained = notes.get("prior_explains", 0) >= PRIOR_EXPLAINS
        steady = notes.get("class_tvd", 0) >= 0.1 and notes.get("confidence_drop", 0) < 0.02
        if explained or steady:
            _explained_by(drift, shift)
        else:
            _explained_by(shift, drift)
    for cause, explained in EXPLAINS.items():
        c = by_key.get(cause)
        if c is None or c.score < CAUSE_SCORE:
            continue
        for key in explained:
            other = by_key.get(key)
            if other is not None and other.score <= c.score:
                other.score = round(other.score * EXPLAINED, 3)
    return sorted(findings, key=lambda f: (-round(f.score, 2), HYPOTHESES.index(f.key)))


def _explained_by(symptom: Finding, cause: Finding) -> None:
    """The symptom never outranks its cause, however strong its own evidence (a windowed drift detector
    flags only once its window has filled with shifted inputs; the class mix moves at once)."""
    symptom.score = round(min(symptom.score * EXPLAINED, cause.score), 3)
