"""The pipeline-artifact hypothesis on scrape gaps: a service Prometheus stopped reaching is evidence, one
missed scrape is not."""

from __future__ import annotations

import numpy as np
from investigate.answers import TIMES, WINDOW, Answers, series

from mlobs.investigate.hypotheses import Context, pipeline
from mlobs.investigate.signals import Signals

ONSET = TIMES[-5]


def finding(up: np.ndarray):
    prom = Answers("svc", scrape_up=[series(up)], predict_rate=[series(np.full(len(TIMES), 10.0))])
    return pipeline(Context(prom, Signals("svc", WINDOW.rate_window), WINDOW, ONSET))


def test_one_missed_scrape_after_the_onset_is_no_pipeline_evidence():
    up = np.ones(len(TIMES))
    up[-1] = 0  # one of the five points after the onset
    assert not any("not scraped" in e.text for e in finding(up).evidence)


def test_a_service_unscraped_for_several_points_after_the_onset_is_pipeline_evidence():
    up = np.ones(len(TIMES))
    up[-3:] = 0
    (gap,) = [e for e in finding(up).evidence if "not scraped" in e.text]
    assert "60%" in gap.text
