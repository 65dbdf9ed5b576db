from __future__ import annotations

import numpy as np

from mlobs.drift.detectors import ConfidenceExceedance, SoftmaxKS


def outputs(rng: np.random.Generator, n: int, confident: float = 5.0) -> np.ndarray:
    logits = rng.normal(0.0, 1.0, (n, 10))
    logits[np.arange(n), rng.integers(0, 10, n)] += confident
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mixture(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """A window where `share` of the inputs come from a shifted source the model is unsure about."""
    shifted = int(round(n * share))
    return np.concatenate([outputs(rng, n - shifted), outputs(rng, shifted, confident=1.0)])


def test_a_tenth_of_the_window_shifted_is_seen_by_exceedance_far_more_often_than_by_ks():
    rng = np.random.default_rng(0)
    reference = outputs(rng, 1000)
    exceedance, ks = ConfidenceExceedance(0.05), SoftmaxKS(0.05)
    exceedance.fit(reference)
    ks.fit(reference)
    windows = [mixture(rng, 200, 0.10) for _ in range(100)]
    seen = np.mean([exceedance.score(w)[0].drift for w in windows])
    assert seen >= 0.9
    assert seen > np.mean([ks.score(w)[0].drift for w in windows])


def test_clean_windows_rarely_exceed_the_references_own_quantile():
    rng = np.random.default_rng(1)
    exceedance = ConfidenceExceedance(0.05)
    exceedance.fit(outputs(rng, 4000))
    assert np.mean([exceedance.score(outputs(rng, 200))[0].drift for _ in range(300)]) <= 0.08


def test_the_statistic_is_the_share_of_inputs_past_the_cut():
    exceedance = ConfidenceExceedance(0.05, quantile=0.5)
    exceedance.fit(np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.55, 0.45]]))
    result = exceedance.score(np.array([[0.51, 0.49], [0.99, 0.01]]))[0]
    assert result.statistic == 0.5 and result.feature == ""


def test_a_tenth_of_the_images_unlike_the_reference_is_seen_by_image_exceedance():
    from mlobs.drift.detectors import ImageExceedance

    rng = np.random.default_rng(2)
    detector = ImageExceedance(0.05)
    detector.fit(rng.normal(0.0, 1.0, (3000, 1, 16, 16)).astype(np.float32))
    clean = [rng.normal(0.0, 1.0, (200, 1, 16, 16)).astype(np.float32) for _ in range(100)]
    shifted = [np.concatenate([w[:180], rng.normal(0.8, 1.0, (20, 1, 16, 16)).astype(np.float32)]) for w in clean]
    assert np.mean([detector.score(w)[0].drift for w in shifted]) >= 0.9
    assert np.mean([detector.score(w)[0].drift for w in clean]) <= 0.08


def test_the_reference_sample_error_widens_the_test_beyond_a_binomial_one():
    from scipy.stats import binom

    from mlobs.drift.detectors.exceedance import exceedance_p_value

    # 30 of 200 past the cut against a reference of 250 with 25 past it (10%)
    assert exceedance_p_value(30, 200, 25, 250) > float(binom.sf(29, 200, 0.1))
    assert exceedance_p_value(10, 200, 25, 250) > 0.9
