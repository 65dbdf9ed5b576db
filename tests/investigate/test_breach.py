"""Which signal broke and when: a real step is a breach, a few noisy points at low traffic are not."""

from __future__ import annotations

import numpy as np

from investigate.answers import TIMES, WINDOW, Answers
from investigate.answers import series as _series

from mlobs.investigate import breach
from mlobs.investigate.signals import Signals


def test_two_slow_requests_at_the_end_of_a_quiet_range_are_no_latency_breach():
    ratio = np.zeros(len(TIMES))
    ratio[-2:] = [0.0625, 0.0455]  # one slow request among 16, then among 22
    assert breach.find(Answers(latency_error_ratio=[_series(ratio)]), Signals("svc", "12s"), WINDOW) is None


def test_a_class_mix_that_moves_with_nothing_else_is_a_breach_with_its_onset_at_the_step():
    step = len(TIMES) // 2
    favoured = np.where(np.arange(len(TIMES)) < step, 0.3, 0.68) + np.random.default_rng(1).normal(0, 0.02, len(TIMES))
    found = breach.find(Answers(class_share=[_series(favoured, **{"class": "favoured"}),
                                             _series(1 - favoured, **{"class": "rest"})]),
                        Signals("svc", "12s"), WINDOW)
    assert found is not None and found.signal == "prediction-mix"
    assert found.onset == TIMES[step]
    assert "class 'favoured'" in found.text or "class 'rest'" in found.text


def _feedback(wrong_before: int, before: int, wrong_after: int, after: int):
    """Feedback counts: before the onset (asked at the onset) and after it (asked at the range's end)."""
    def counts(query: str, at: float):
        late = at >= WINDOW.end
        if 'outcome="incorrect"' in query:
            return wrong_after if late else wrong_before
        return after if late else before
    return counts


def _error_rate_stepping_up_near_the_end() -> np.ndarray:
    rate = np.full(len(TIMES), 0.021)
    rate[-4:] = 0.077  # 97.9% to 92.3% over the last four points
    return rate


def test_a_few_wrong_answers_at_the_end_of_a_steady_range_are_no_online_accuracy_breach():
    # Two wrong among 26 labels after 10 among 480: the points share their rate windows, the counts say noise.
    answers = Answers(online_error_rate=[_series(_error_rate_stepping_up_near_the_end())],
                      counts=_feedback(10, 480, 2, 26))
    assert breach.find(answers, Signals("svc", "12s"), WINDOW) is None


def test_the_same_fall_in_online_accuracy_over_many_labels_is_a_breach():
    answers = Answers(online_error_rate=[_series(_error_rate_stepping_up_near_the_end())],
                      counts=_feedback(10, 480, 40, 520))
    found = breach.find(answers, Signals("svc", "12s"), WINDOW)
    assert found is not None and found.signal == "online-accuracy"
    assert found.onset == TIMES[-4]
