from __future__ import annotations

import numpy as np
import pytest

from mlobs.drift.detectors.image_stats import image_statistics
from mlobs.drift.detectors import (
    Detector,
    EmbeddingMMD,
    ImageStatsKS,
    NotFittedError,
    SoftmaxKS,
    TabularChiSquare,
    TabularKS,
    TextOOV,
)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def probs(rng: np.random.Generator, n: int, shift: float = 0.0) -> np.ndarray:
    logits = rng.normal(0, 1, (n, 5))
    logits[:, 0] += 2.0 + shift
    return softmax(logits)


def test_every_detector_satisfies_the_interface():
    for detector in (
        SoftmaxKS(), EmbeddingMMD(), ImageStatsKS(), TextOOV(["a"]), TabularKS(["x"]), TabularChiSquare(["c"])
    ):
        assert isinstance(detector, Detector)


def test_softmax_ks_finds_no_drift_on_the_same_distribution():
    rng = np.random.default_rng(0)
    detector = SoftmaxKS(p_value=0.05)
    detector.fit(probs(rng, 500))
    [result] = detector.score(probs(rng, 200))
    assert result.detector == "softmax_ks" and result.feature == ""
    assert not result.drift
    assert result.threshold == pytest.approx(0.05 / 5)  # Bonferroni over the 5 classes


def test_softmax_ks_finds_drift_when_the_outputs_shift():
    rng = np.random.default_rng(1)
    detector = SoftmaxKS()
    detector.fit(probs(rng, 500))
    [result] = detector.score(probs(rng, 200, shift=-2.0))
    assert result.drift and result.p_value < result.threshold and result.statistic > 0.2


def test_scoring_before_fit_is_a_clear_error():
    with pytest.raises(NotFittedError, match="softmax_ks"):
        SoftmaxKS().score(np.zeros((3, 2)))


@pytest.mark.slow  # MMD permutation tests over many windows
def test_embedding_mmd_catches_mild_noise_on_images():
    rng = np.random.default_rng(2)
    base = np.zeros((400, 1, 12, 12), dtype=np.float32)
    base[:, :, 3:9, 5:7] = 1.0
    images = base + rng.normal(0, 0.05, base.shape).astype(np.float32)
    detector = EmbeddingMMD(n_permutations=50, seed=0)
    detector.fit(images[:200])
    [same] = detector.score(images[200:300])
    [noisy] = detector.score(images[300:] + rng.normal(0, 0.3, images[300:].shape).astype(np.float32))
    assert not same.drift
    assert noisy.drift and noisy.p_value < 0.05


def test_embedding_mmd_p_value_counts_the_observed_split_so_it_is_never_zero():
    rng = np.random.default_rng(12)
    detector = EmbeddingMMD(n_permutations=20)
    detector.fit(rng.normal(0, 1, (60, 8, 8)).astype(np.float32))
    [result] = detector.score(rng.normal(3, 1, (60, 8, 8)).astype(np.float32))
    assert result.p_value == pytest.approx(1 / 21) and result.drift


def test_embedding_mmd_gives_the_same_answer_twice_for_one_window():
    rng = np.random.default_rng(3)
    images = rng.normal(0, 1, (120, 8, 8)).astype(np.float32)
    detector = EmbeddingMMD(n_permutations=30)
    detector.fit(images[:60])
    assert detector.score(images[60:]) == detector.score(images[60:])


def test_embedding_mmd_rejects_images_of_another_shape():
    detector = EmbeddingMMD(n_permutations=10)
    detector.fit(np.zeros((20, 1, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="do not match"):
        detector.score(np.zeros((20, 1, 9, 9), dtype=np.float32))


def strokes(rng: np.random.Generator, n: int, size: int = 16) -> np.ndarray:
    """Smooth bright bars of random position, width and brightness on black: digit-like images in [-1, 1]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    centre = rng.uniform(size * 0.3, size * 0.7, (n, 2, 1, 1))
    width = rng.uniform(1.5, 3.0, (n, 1, 1))
    brightness = rng.uniform(0.6, 1.0, (n, 1, 1))
    bar = np.exp(
        -np.square(xx - centre[:, 0]) / (2 * width**2) - np.square(yy - centre[:, 1]) / (2 * (size * 0.2) ** 2)
    )
    return (2.0 * brightness * bar - 1.0)[:, None].astype(np.float32)


def test_image_statistics_are_mean_spread_and_laplacian_energy_per_image():
    flat = np.full((1, 1, 6, 6), 0.5, dtype=np.float32)
    checker = (np.indices((6, 6)).sum(axis=0) % 2).astype(np.float32)[None, None]
    stats = image_statistics(np.concatenate([flat, checker]))
    assert stats.shape == (2, 3)
    assert stats[0].tolist() == pytest.approx([0.5, 0.0, 0.0])
    assert stats[1].tolist() == pytest.approx([0.5, 0.5, 16.0])  # each inner pixel: 4 * 1 - 0, or 0 - 4 * 1


def test_image_stats_finds_no_drift_on_images_like_the_reference():
    rng = np.random.default_rng(10)
    detector = ImageStatsKS()
    detector.fit(strokes(rng, 400))
    results = detector.score(strokes(rng, 200))
    assert [r.feature for r in results] == ["mean", "std", "laplacian_energy"]
    assert all(r.detector == "image_stats" for r in results)
    assert not any(r.drift for r in results)
    assert results[0].threshold == pytest.approx(0.05 / 3)  # Bonferroni over the 3 statistics


def test_image_stats_catches_mild_noise_in_the_laplacian_energy():
    rng = np.random.default_rng(11)
    detector = ImageStatsKS()
    detector.fit(strokes(rng, 400))
    window = strokes(rng, 200)
    noisy = {r.feature: r for r in detector.score(window + rng.normal(0, 0.05, window.shape).astype(np.float32))}
    assert noisy["laplacian_energy"].drift and noisy["laplacian_energy"].statistic > 0.5


def test_image_stats_rejects_images_too_small_for_a_laplacian():
    with pytest.raises(ValueError, match="3x3"):
        image_statistics(np.zeros((4, 2, 2), dtype=np.float32))


VOCABULARY = ["good", "bad", "film", "plot", "great", "awful", "acting", "the", "a", "was"]


def texts(rng: np.random.Generator, n: int, oov_share: float) -> np.ndarray:
    out = []
    for _ in range(n):
        words = [
            f"zz{rng.integers(1000)}" if rng.random() < oov_share else VOCABULARY[rng.integers(len(VOCABULARY))]
            for _ in range(8)
        ]
        out.append(" ".join(words))
    return np.array(out)


def test_text_oov_finds_no_drift_on_texts_like_the_reference():
    rng = np.random.default_rng(4)
    detector = TextOOV(VOCABULARY)
    detector.fit(texts(rng, 300, 0.05))
    [result] = detector.score(texts(rng, 200, 0.05))
    assert not result.drift


def test_text_oov_finds_drift_when_unknown_words_surge():
    rng = np.random.default_rng(5)
    detector = TextOOV(VOCABULARY)
    detector.fit(texts(rng, 300, 0.05))
    [result] = detector.score(texts(rng, 200, 0.4))
    assert result.drift and result.statistic > 0.5


def test_text_oov_rate_counts_unknown_tokens_per_text():
    detector = TextOOV(["good", "film"])
    assert detector.oov_rates(np.array(["Good film!", "good zzz", ""]))[:, 0].tolist() == [0.0, 0.5, 0.0]


def tabular(rng: np.random.Generator, n: int, income_shift: float = 0.0) -> np.ndarray:
    return np.column_stack([rng.normal(40, 10, n), rng.normal(50_000 + income_shift, 8_000, n)])


def test_tabular_ks_names_the_feature_that_drifted():
    rng = np.random.default_rng(6)
    detector = TabularKS(["age", "income"])
    detector.fit(tabular(rng, 500))
    results = {r.feature: r for r in detector.score(tabular(rng, 200, income_shift=15_000))}
    assert set(results) == {"age", "income"}
    assert results["income"].drift and not results["age"].drift
    assert results["income"].threshold == pytest.approx(0.05 / 2)


def test_tabular_ks_finds_no_drift_on_the_same_distribution():
    rng = np.random.default_rng(7)
    detector = TabularKS(["age", "income"])
    detector.fit(tabular(rng, 500))
    assert not any(r.drift for r in detector.score(tabular(rng, 200)))


def test_tabular_ks_rejects_a_window_with_the_wrong_columns():
    detector = TabularKS(["age", "income"])
    detector.fit(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="age"):
        detector.score(np.zeros((10, 3)))


def categorical(rng: np.random.Generator, n: int, housing_p: list[float]) -> np.ndarray:
    return np.column_stack(
        [rng.choice(["own", "rent", "free"], n, p=housing_p), rng.choice(["a", "b"], n, p=[0.5, 0.5])]
    ).astype(object)


def test_tabular_chi_square_names_the_categorical_feature_that_drifted():
    rng = np.random.default_rng(8)
    detector = TabularChiSquare(["housing", "purpose"])
    detector.fit(categorical(rng, 500, [0.6, 0.3, 0.1]))
    same = {r.feature: r.drift for r in detector.score(categorical(rng, 200, [0.6, 0.3, 0.1]))}
    shifted = {r.feature: r.drift for r in detector.score(categorical(rng, 200, [0.2, 0.3, 0.5]))}
    assert same == {"housing": False, "purpose": False}
    assert shifted == {"housing": True, "purpose": False}


def test_tabular_chi_square_counts_a_category_unseen_in_the_reference():
    rng = np.random.default_rng(9)
    detector = TabularChiSquare(["housing"])
    detector.fit(rng.choice(["own", "rent"], (300, 1)).astype(object))
    window = rng.choice(["own", "rent", "boat"], (200, 1)).astype(object)
    [result] = detector.score(window)
    assert result.drift
