from __future__ import annotations

import numpy as np
import pytest

from mlobs.drift.detectors import ConfidenceExceedance, EmbeddingMMD, ImageExceedance, ImageStatsKS, SoftmaxKS
from mlobs.drift.plan import plan
from mlobs.drift.settings import DriftSettings


def vision_reference(rng: np.random.Generator, n: int = 120) -> dict[str, np.ndarray]:
    probs = rng.dirichlet(np.ones(10), n).astype(np.float32)
    return {"probs": probs, "images": rng.normal(0, 0.1, (n, 1, 8, 8)).astype(np.float32)}


def test_a_vision_reference_gets_output_tests_and_input_tests():
    planned = plan(vision_reference(np.random.default_rng(0)), DriftSettings(mmd_permutations=10))
    assert [type(p.detector) for p in planned] == [SoftmaxKS, ConfidenceExceedance, ImageStatsKS, EmbeddingMMD,
                                                   ImageExceedance]
    stats = planned[2]
    assert stats.detector.name == "image_stats" and stats.reference_key == "images"


def test_image_stats_reads_the_shipped_image_and_scores_the_window():
    rng = np.random.default_rng(1)
    planned = {p.detector.name: p for p in plan(vision_reference(rng), DriftSettings(mmd_permutations=10))}
    samples = [{"probs": p.tolist(), "image": i.tolist()} for p, i in zip(*vision_reference(rng, 60).values())]
    samples.append({"probs": samples[0]["probs"]})  # a sample without an image is skipped
    window = planned["image_stats"].extract(samples)
    assert window.shape == (60, 1, 8, 8)
    results = planned["image_stats"].detector.score(window)
    assert {r.feature for r in results} == {"mean", "std", "laplacian_energy"}
    assert not any(r.drift for r in results)


def test_a_reference_with_no_known_signal_is_a_clear_error():
    with pytest.raises(ValueError, match="no known signal"):
        plan({"labels": np.arange(3)}, DriftSettings())


def test_an_image_of_another_shape_or_not_numeric_is_left_out_and_the_window_still_tested():
    rng = np.random.default_rng(0)
    reference = {"images": rng.random((60, 1, 8, 8)).astype(np.float32)}
    planned = plan(reference, DriftSettings())
    good = [{"image": rng.random((1, 8, 8)).tolist()} for _ in range(40)]
    bad = [{"image": [[0.5] * 8]}, {"image": [[["x"] * 8] * 8]}, {"image": rng.random((1, 9, 9)).tolist()}]
    for p in planned:
        window = p.extract(good + bad)
        assert window.shape == (40, 1, 8, 8), p.detector.name
        assert p.decide(p.detector.score(window), len(window))
