from __future__ import annotations

import numpy as np
import pytest

from mlobs.drift.calibration import load_calibration
from mlobs.drift.estimate import AccuracyEstimator


@pytest.fixture(scope="module")
def credit(artifacts_dir, credit_model):
    from mlobs_services.credit import model

    directory = artifacts_dir / "credit" / credit_model.version
    return model.load(directory), load_calibration(directory).estimator


def window(model, rows):
    probs = model.default_probability([r["features"] for r in rows])
    probs = np.column_stack([1 - probs, probs])
    truth = np.array([r["defaulted"] for r in rows])
    return probs, float(np.mean(probs.argmax(axis=1) == truth))


def test_estimated_accuracy_is_within_3_points_of_the_truth_when_incomes_fall_40_percent(credit):
    from mlobs_services.credit import data

    model, estimator = credit
    rows = data.generate(n=4000, seed=4242, shift="income")  # a covariate shift: P(default | inputs) holds
    probs, true_accuracy = window(model, rows)
    _, clean_accuracy = window(model, data.generate(n=4000, seed=4243))
    estimate = estimator.estimate(probs)
    assert clean_accuracy - true_accuracy > 0.01  # the shift costs accuracy, and the estimate follows it
    assert abs(estimate.accuracy - true_accuracy) <= 0.03, (estimate, true_accuracy)
    assert estimate.lower < estimate.accuracy < estimate.upper


def test_the_estimator_is_blind_to_a_concept_shift_that_labels_would_show(credit):
    from mlobs_services.credit import data

    model, estimator = credit
    rows = data.generate(n=2000, seed=4244)
    for r in rows:  # the same inputs now mean the opposite outcome
        r["defaulted"] = 1 - r["defaulted"]
    probs, true_accuracy = window(model, rows)
    assert estimator.estimate(probs).accuracy - true_accuracy > 0.5


def test_the_interval_narrows_with_the_window_and_stays_in_0_to_1():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), 4000)
    labels = np.array([rng.choice(3, p=p) for p in probs])
    estimator = AccuracyEstimator.fit(probs, labels)
    small, large = estimator.estimate(probs[:50]), estimator.estimate(probs[:2000])
    assert 0.0 <= small.lower < large.lower <= large.upper < small.upper <= 1.0


def test_an_estimator_survives_a_round_trip_through_its_dict():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(4), 500)
    estimator = AccuracyEstimator.fit(probs, probs.argmax(axis=1))
    again = AccuracyEstimator.from_dict(estimator.to_dict())
    assert again.estimate(probs[:100]) == estimator.estimate(probs[:100]) and again.baseline == 1.0
