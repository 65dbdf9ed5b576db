"""Black-box shift estimation on synthetic mixtures whose class priors are known."""

from __future__ import annotations

import numpy as np
import pytest

from mlobs.drift.prior import PriorShiftEstimator

MEANS = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])


def draw(rng: np.random.Generator, prior, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs of a three-class Gaussian mixture with this class prior, and their classes."""
    labels = rng.choice(len(prior), n, p=prior)
    return MEANS[labels] + rng.normal(0, 1, (n, 2)), labels


def classifier(x: np.ndarray) -> np.ndarray:
    """A fixed, imperfect classifier: softmax of each class mean's negative squared distance."""
    logits = -0.5 * np.square(x[:, None, :] - MEANS[None]).sum(axis=2)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def estimator():
    x, y = draw(np.random.default_rng(0), [0.6, 0.3, 0.1], 5000)
    return PriorShiftEstimator(classifier(x), y)


@pytest.mark.parametrize("prior", [[0.2, 0.3, 0.5], [0.05, 0.9, 0.05], [0.6, 0.3, 0.1]])
def test_the_class_mix_of_unlabelled_traffic_is_estimated_within_a_few_points(estimator, prior):
    x, _ = draw(np.random.default_rng(1), prior, 5000)
    estimate = estimator.estimate(classifier(x))
    assert np.allclose(estimate.shares, prior, atol=0.04), estimate.shares
    assert estimate.shares.sum() == pytest.approx(1.0)


def test_the_weights_are_the_ratio_of_the_estimated_to_the_held_out_prior(estimator):
    x, _ = draw(np.random.default_rng(2), [0.2, 0.3, 0.5], 5000)
    estimate = estimator.estimate(classifier(x))
    assert np.allclose(estimate.weights * estimator.prior, estimate.shares)
    assert estimate.weights[2] > 3  # the rare class is five times as common


def test_a_class_that_vanished_gets_no_negative_share(estimator):
    x, _ = draw(np.random.default_rng(3), [0.5, 0.5, 0.0], 300)
    estimate = estimator.estimate(classifier(x))
    assert np.all(estimate.shares >= 0)
    assert estimate.shares[2] < 0.05


def test_outputs_that_do_not_depend_on_the_class_cannot_estimate_a_prior():
    x, y = draw(np.random.default_rng(4), [0.6, 0.3, 0.1], 1000)
    constant = np.tile([0.5, 0.3, 0.2], (len(y), 1))
    with pytest.raises(ValueError, match="ill-conditioned"):
        PriorShiftEstimator(constant, y)


def test_a_class_with_no_held_out_row_is_refused_by_name():
    x, y = draw(np.random.default_rng(5), [0.5, 0.5, 0.0], 1000)
    with pytest.raises(ValueError, match=r"classes \[2\] have no held-out row"):
        PriorShiftEstimator(classifier(x), y)


def test_probabilities_of_the_wrong_width_are_refused(estimator):
    with pytest.raises(ValueError, match="3"):
        estimator.estimate(np.full((10, 2), 0.5))


def test_the_accuracy_under_a_prior_shift_is_the_held_out_recall_weighted_by_the_new_mix(estimator):
    x, y = draw(np.random.default_rng(6), [0.1, 0.1, 0.8], 2000)
    probs = classifier(x)
    truth = float(np.mean(probs.argmax(axis=1) == y))
    accuracy = estimator.accuracy(estimator.estimate(probs), probs)
    assert accuracy.accuracy == pytest.approx(truth, abs=0.03)
    assert accuracy.lower <= truth <= accuracy.upper
    assert accuracy.upper - accuracy.lower < 0.1


def test_a_flagged_input_test_with_no_weighted_form_leaves_the_input_change_unexplained(estimator):
    from mlobs.drift.detectors import DriftResult
    from mlobs.drift.plan import plan
    from mlobs.drift.prior import explain
    from mlobs.drift.settings import DriftSettings

    x, y = draw(np.random.default_rng(7), [0.6, 0.3, 0.1], 300)
    reference = {"probs": classifier(x), "labels": y, "texts": np.array(["good film"] * 300),
                 "vocabulary": np.array(["good", "film"])}
    planned = plan(reference, DriftSettings())
    window = [{"probs": p.tolist(), "text": "qq zz"} for p in classifier(draw(np.random.default_rng(8), [0.1, 0.3, 0.6],
                                                                                  200)[0])]
    flagged = {"text_oov": [DriftResult("text_oov", "", 1e-9, 1.0, 0.05, True)]}
    explanation = explain(PriorShiftEstimator(reference["probs"], y), planned, {}, window, flagged)
    assert explanation.flagged == ("text_oov",) and explanation.unweighable == ("text_oov",)
    assert not explanation.explains
    assert explanation.estimate.shares[2] > 0.4  # the mix is still estimated and exported
