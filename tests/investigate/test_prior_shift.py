"""Input drift and an output shift at once: the drift exporter's class-prior estimate decides which is the
cause. Each case runs every hypothesis and the ranking on canned Prometheus answers for a credit model."""

from __future__ import annotations

import numpy as np
from investigate.answers import TIMES, WINDOW, Answers, series

from mlobs.investigate.hypotheses import TESTS, Context
from mlobs.investigate.rank import rank
from mlobs.investigate.signals import Signals

ONSET = 90.0
AFTER = TIMES >= ONSET


def step(before: float, after: float, **labels):
    return series(np.where(AFTER, after, before), **labels)


def credit_answers(explains=None, **extra) -> dict:
    """Half the applicants default from the onset: the inputs that go with defaulting drift, the model is
    less sure of itself (as under a covariate shift) and declines more; `explains` the exporter's verdict."""
    answers = {
        "class_rate": [step(8.9, 7.4, **{"class": "approve"}), step(1.1, 2.6, **{"class": "decline"})],
        "mean_confidence": [step(0.910, 0.865)],
        "drift_detected": [step(0, 1, detector="tabular_ks", feature="debt_to_income"),
                           step(0, 1, detector="tabular_chi2", feature="employment_type"),
                           step(0, 1, detector="softmax_ks", feature="")],
        "predict_rate": [step(10.0, 10.0)],
        **extra,
    }
    if explains is not None:
        answers["prior_shift_explains"] = [series(explains)]
        answers["estimated_class_share"] = [step(0.12, 0.49, **{"class": "decline"}),
                                            step(0.88, 0.51, **{"class": "approve"})]
        answers["reference_class_share"] = [step(0.11, 0.11, **{"class": "decline"}),
                                            step(0.89, 0.89, **{"class": "approve"})]
    return answers


def investigate(answers: dict):
    prom = Answers("credit", **answers)
    ctx = Context(prom, Signals("credit", WINDOW.rate_window), WINDOW, ONSET)
    return rank([test(ctx) for test in TESTS], ctx.notes), prom


def explained_after_onset(share_of_points: float) -> np.ndarray:
    """1 at this share of the points after the onset (the windows that filled with shifted traffic)."""
    values = np.zeros(len(TIMES))
    after = np.nonzero(AFTER)[0]
    values[after[len(after) - round(len(after) * share_of_points):]] = 1
    return values


def test_a_class_mix_that_explains_the_input_drift_ranks_the_output_shift_first_and_names_the_estimate():
    ranked, prom = investigate(credit_answers(explains=explained_after_onset(0.7)))
    assert [f.key for f in ranked[:2]] == ["output_shift", "input_drift"]
    assert ranked[1].score <= ranked[0].score
    evidence = [e for e in ranked[0].evidence if "without labels" in e.text]
    assert evidence, ranked[0].evidence
    assert "'decline' at 49% of the traffic after the onset (11% in the held-out data)" in evidence[0].text
    assert "explains the input drift in 70%" in evidence[0].text
    assert evidence[0].promql == Signals("credit", WINDOW.rate_window).estimated_class_share()
    assert evidence[0].promql in prom.queries


def test_input_drift_the_class_mix_does_not_explain_stays_the_cause():
    ranked, _ = investigate(credit_answers(explains=np.zeros(len(TIMES))))
    assert [f.key for f in ranked[:2]] == ["input_drift", "output_shift"]
    assert not any("without labels" in e.text for e in ranked[1].evidence)


def test_without_the_exporters_estimate_a_less_confident_model_still_points_at_input_drift():
    ranked, _ = investigate(credit_answers(explains=None))
    assert ranked[0].key == "input_drift"


def test_an_estimate_that_explained_the_inputs_before_the_onset_too_is_no_evidence_of_a_change():
    ranked, _ = investigate(credit_answers(explains=np.ones(len(TIMES))))
    assert ranked[0].key == "input_drift"


def test_a_digit_mix_shift_with_steady_confidence_still_leads_without_any_estimate():
    answers = credit_answers(explains=None, mean_confidence=[step(0.97, 0.97)])
    answers["class_rate"] = [step(5.0, 2.0, **{"class": "3"}), step(5.0, 8.0, **{"class": "7"})]
    ranked, _ = investigate(answers)
    assert ranked[0].key == "output_shift"
