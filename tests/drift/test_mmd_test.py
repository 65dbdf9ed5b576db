"""The batched MMD permutation test against Alibi Detect's MMDDrift, the test it replaces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlobs.drift.detectors.mmd_test import MMDPermutationTest


def alibi_p_value_and_distance(reference: np.ndarray, window: np.ndarray, seed: int) -> tuple[float, float]:
    from alibi_detect.cd import MMDDrift

    detector = MMDDrift(reference, backend="pytorch", p_val=0.05, n_permutations=100,
                        configure_kernel_from_x_ref=False, device="cpu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        data = detector.predict(window)["data"]
    return float(data["p_val"]), float(data["distance"])


def ours(reference: np.ndarray, window: np.ndarray, seed: int):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MMDPermutationTest(reference, n_permutations=100).test(window)


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.2, 0.4])
@pytest.mark.parametrize("window_size", [50, 200])
def test_batched_mmd_gives_alibis_p_value_and_distance_on_the_same_seed(shift, window_size):
    rng = np.random.default_rng(int(shift * 100) + window_size)
    reference = rng.normal(size=(250, 32)).astype(np.float32)
    for seed in range(5):
        window = (rng.normal(size=(window_size, 32)) + shift).astype(np.float32)
        expected_p, expected_distance = alibi_p_value_and_distance(reference, window, seed)
        got = ours(reference, window, seed)
        # The same permutations; only the rounding of the sums differs, so at most a tie can move.
        assert abs(got.p_value - expected_p) <= 0.01 + 1e-9
        assert got.mmd2 == pytest.approx(expected_distance, rel=1e-3, abs=1e-6)


def test_batched_mmd_makes_alibis_decisions_over_many_null_and_shifted_windows():
    rng = np.random.default_rng(7)
    reference = rng.normal(size=(200, 16)).astype(np.float32)
    agree = 0
    windows = [(rng.normal(size=(100, 16)) + rng.choice([0.0, 0.15, 0.3])).astype(np.float32) for _ in range(30)]
    flagged = 0
    for seed, window in enumerate(windows):
        expected = alibi_p_value_and_distance(reference, window, seed)[0] < 0.05
        got = ours(reference, window, seed).p_value < 0.05
        agree += expected == got
        flagged += got
    assert agree == len(windows)
    assert 0 < flagged < len(windows)  # both kinds of decision were compared


def test_a_window_of_one_row_is_refused():
    test = MMDPermutationTest(np.zeros((10, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="at least 2 rows"):
        test.test(np.zeros((1, 3), dtype=np.float32))
