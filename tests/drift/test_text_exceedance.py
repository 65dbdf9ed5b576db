"""A drifting share of texts, seen against the sentiment model's shipped reference and calibration."""

from __future__ import annotations

import numpy as np
import pytest

from mlobs.drift.calibration import load_calibration
from mlobs.drift.detectors import TextExceedance
from mlobs.drift.plan import plan
from mlobs.drift.reference import load_reference
from mlobs.drift.settings import DriftSettings


@pytest.fixture(scope="module")
def shipped(artifacts_dir, sentiment_model):
    directory = artifacts_dir / sentiment_model.name / sentiment_model.version
    planned = plan(load_reference(directory), DriftSettings(), load_calibration(directory))
    return next(p for p in planned if p.detector.name == "text_exceedance")


@pytest.fixture(scope="module")
def texts():
    from mlobs_services.sentiment import corpus

    reviews = np.array([t for t, _ in corpus.generate(n=3000, seed=9101)])
    social = np.array([t for t, _ in corpus.generate(n=600, seed=9102, domain="social")])
    return reviews, social


def flagged(planned, window: np.ndarray) -> bool:
    return any(r.drift for r in planned.decide(planned.detector.score(window), len(window)))


def test_a_tenth_of_social_posts_among_reviews_is_flagged_in_nearly_every_window(shipped, texts):
    reviews, social = texts
    rng = np.random.default_rng(3)
    windows = [np.concatenate([rng.choice(reviews, 180, replace=False), rng.choice(social, 20, replace=False)])
               for _ in range(40)]
    assert np.mean([flagged(shipped, w) for w in windows]) >= 0.9


def test_windows_of_reviews_alone_are_rarely_flagged(shipped, texts):
    reviews, _ = texts
    rng = np.random.default_rng(4)
    assert np.mean([flagged(shipped, rng.choice(reviews, 200, replace=False)) for _ in range(100)]) <= 0.08


def test_the_shipped_calibration_has_a_rule_for_text_exceedance(artifacts_dir, sentiment_model):
    calibration = load_calibration(artifacts_dir / sentiment_model.name / sentiment_model.version)
    assert calibration.threshold("text_exceedance", 200) is not None


def test_each_texts_score_is_its_share_of_words_outside_the_vocabulary():
    detector = TextExceedance(["good", "film"], quantile=0.5)
    detector.fit(np.array(["good film", "good film", "good zzz", "film"]))
    assert detector.scores(np.array(["good film", "zzz yyy good film", ""])).tolist() == [0.0, 0.5, 0.0]
    [result] = detector.score(np.array(["zzz yyy", "good film"]))
    assert result.detector == "text_exceedance" and result.statistic == 0.5
