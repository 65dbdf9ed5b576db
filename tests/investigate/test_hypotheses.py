"""The model-version hypothesis for a service that serves several models, each with its own versions."""

from __future__ import annotations

import numpy as np
from investigate.answers import TIMES, WINDOW, Answers, series

from mlobs.investigate.hypotheses import Context, model_version
from mlobs.investigate.signals import Signals

ONSET = TIMES[30]


def _in_service(since: float = -1.0, until: float = np.inf) -> np.ndarray:
    return np.where((TIMES >= since) & (TIMES < until), 1.0, np.nan)


def finding(*versions):
    prom = Answers("svc", versions_in_service=list(versions))
    return model_version(Context(prom, Signals("svc", WINDOW.rate_window), WINDOW, ONSET))


def test_a_new_version_of_one_model_replaces_its_own_predecessor_not_the_other_models_version():
    found = finding(series(_in_service(), model="scorer", model_version="v1"),
                    series(_in_service(until=ONSET), model="ranker", model_version="r1"),
                    series(_in_service(since=ONSET), model="ranker", model_version="r2"))
    assert found.score == 1.0
    assert found.evidence[0].text.startswith("model 'ranker' version r2 went into service at")
    assert found.evidence[0].text.endswith("replacing r1"), found.evidence[0].text


def test_a_model_added_beside_the_others_is_named_as_a_new_model():
    found = finding(series(_in_service(), model="scorer", model_version="v1"),
                    series(_in_service(since=ONSET), model="ranker", model_version="r1"))
    assert found.score == 1.0
    assert found.evidence[0].text.startswith("model 'ranker' (version r1) went into service at")
    assert found.evidence[0].text.endswith("beside 'scorer'")
