"""Tests against a reweighted reference: equal weights give the detectors' own p-values, and weights that
match the window's mix of subpopulations explain it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from mlobs.drift.detectors import ImageStatsKS, SoftmaxKS, TabularChiSquare, TabularKS
from mlobs.drift.weighted import columns, effective_size, reweighted, weighted_chi_square, weighted_ks


def test_equal_weights_give_scipys_asymptotic_ks_p_value():
    rng = np.random.default_rng(0)
    reference, window = rng.normal(0, 1, 1000), rng.normal(0.2, 1, 200)
    p_value, distance = weighted_ks(reference, np.ones(1000), window)
    expected = ks_2samp(reference, window, mode="asymp")
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert distance == pytest.approx(expected.statistic)


def test_equal_weights_give_the_tabular_detectors_p_values_unseen_categories_included():
    rng = np.random.default_rng(1)
    numeric = rng.normal(0, 1, (800, 3)).astype(np.float32)
    categorical = rng.choice(["a", "b", "c"], (800, 2), p=[0.5, 0.3, 0.2]).astype(object)
    window_numeric = rng.normal(0.3, 1, (200, 3)).astype(np.float32)
    window_categorical = rng.choice(["a", "b", "c", "new"], (200, 2), p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    for detector, ref, window in ((TabularKS(["x", "y", "z"]), numeric, window_numeric),
                                  (TabularChiSquare(["u", "v"]), categorical, window_categorical)):
        detector.fit(ref)
        plain = detector.score(window)
        weighted = reweighted(detector, columns(detector, ref), np.ones(len(ref)), window)
        assert [r.feature for r in weighted] == [r.feature for r in plain]
        assert [r.threshold for r in weighted] == pytest.approx([r.threshold for r in plain])
        assert [r.p_value for r in weighted] == pytest.approx([r.p_value for r in plain], rel=1e-4)


def test_equal_weights_give_the_image_statistics_p_values():
    rng = np.random.default_rng(2)
    images, window = rng.random((300, 8, 8)), rng.random((100, 8, 8)) * 1.2
    detector = ImageStatsKS()
    detector.fit(images)
    plain = detector.score(window)
    weighted = reweighted(detector, columns(detector, images), np.ones(300), window)
    assert [r.p_value for r in weighted] == pytest.approx([r.p_value for r in plain], rel=1e-4)


def test_a_window_with_another_mix_of_subpopulations_flags_unless_the_reference_is_weighted_to_that_mix():
    rng = np.random.default_rng(3)
    group = rng.random(2000) < 0.5
    reference = np.where(group, rng.normal(3, 1, 2000), rng.normal(0, 1, 2000))
    window = np.concatenate([rng.normal(3, 1, 180), rng.normal(0, 1, 20)])  # 90% of the second group
    assert weighted_ks(reference, np.ones(2000), window)[0] < 1e-6
    weights = np.where(group, 0.9 / 0.5, 0.1 / 0.5)
    assert weighted_ks(reference, weights, window)[0] > 0.05


def test_weighted_categories_match_a_window_drawn_in_the_weighted_shares():
    rng = np.random.default_rng(4)
    reference = rng.choice(["rent", "own"], 2000, p=[0.7, 0.3])
    window = rng.choice(["rent", "own"], 300, p=[0.2, 0.8])
    assert weighted_chi_square(reference, np.ones(2000), window)[0] < 1e-6
    weights = np.where(reference == "own", 0.8 / 0.3, 0.2 / 0.7)
    assert weighted_chi_square(reference, weights, window)[0] > 0.05


def test_a_few_heavy_rows_make_a_small_effective_reference():
    assert effective_size(np.ones(100)) == pytest.approx(100)
    assert effective_size(np.r_[np.full(10, 10.0), np.full(90, 0.01)]) == pytest.approx(10.2, abs=0.1)


def test_weights_that_are_negative_or_all_zero_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        weighted_ks(np.arange(3.0), np.array([1.0, -1.0, 1.0]), np.arange(3.0))
    with pytest.raises(ValueError, match="not all zero"):
        weighted_chi_square(np.array(["a", "b"]), np.zeros(2), np.array(["a"]))


def test_a_detector_with_no_weighted_form_says_so():
    with pytest.raises(ValueError, match="softmax_ks.*no reweighted test"):
        columns(SoftmaxKS(), np.ones((10, 2)))
