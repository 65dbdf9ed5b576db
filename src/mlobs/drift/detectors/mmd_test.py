"""The MMD permutation test with every permutation's statistic from one kernel matrix.

Alibi Detect's MMDDrift (pytorch backend) re-indexes the whole kernel matrix once per permutation in
a Python loop. Here each permutation is a 0/1 membership vector a (1 for the rows it puts in the
reference): the within-reference sum is a'Ka, the within-window sum b'Kb (b = 1 - a) and the cross
sum a'Kb, so all permutations are a few matrix products. The kernel (Gaussian RBF, bandwidth by the
median heuristic on the reference-window distances), the unbiased MMD^2 with zero diagonal and the
permutations (torch.randperm, the same draws in the same order) are Alibi's, so on the same seed the
p-value is Alibi's up to floating-point rounding of the sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MMDTest:
    p_value: float  # share of permutations with an MMD^2 at least the observed one (Alibi's definition)
    mmd2: float
    permuted: np.ndarray


def squared_distances(x, y):
    """Alibi's squared_pairwise_distance: |x|^2 + |y|^2 - 2x.y, clipped at 1e-30."""
    import torch

    x2 = x.pow(2).sum(dim=-1, keepdim=True)
    y2 = y.pow(2).sum(dim=-1, keepdim=True)
    return torch.addmm(y2.transpose(-2, -1), x, y.transpose(-2, -1), alpha=-2).add_(x2).clamp_min_(1e-30)


def median_bandwidth(cross):
    """Alibi's sigma_median for two different samples: sqrt(0.5 * the lower median of their distances)."""
    flat = cross.flatten().sort().values
    return (0.5 * flat[int(flat.numel() // 2 - 1)]) ** 0.5


class MMDPermutationTest:
    """Fitted on reference embeddings once; `test(window)` runs the whole permutation test."""

    def __init__(self, reference: np.ndarray, n_permutations: int = 100) -> None:
        import torch

        self.reference = torch.as_tensor(np.asarray(reference, dtype=np.float32)).flatten(1)
        self.n_permutations = n_permutations
        self._dist_xx = squared_distances(self.reference, self.reference)  # the reference's part, once

    def test(self, window: np.ndarray) -> MMDTest:
        """Permutations come from torch's global generator: seed it (torch.manual_seed) for a repeatable answer."""
        import torch

        y = torch.as_tensor(np.asarray(window, dtype=np.float32)).flatten(1)
        n, m = len(self.reference), len(y)
        if m < 2:
            raise ValueError("an MMD test needs a window of at least 2 rows")
        cross = squared_distances(self.reference, y)
        gamma = 1.0 / (2.0 * median_bandwidth(cross) ** 2)
        kernel = torch.cat([
            torch.cat([torch.exp(-gamma * self._dist_xx), torch.exp(-gamma * cross)], 1),
            torch.cat([torch.exp(-gamma * cross.T), torch.exp(-gamma * squared_distances(y, y))], 1),
        ], 0)
        kernel.fill_diagonal_(0.0)
        k = kernel.double()
        total = n + m
        members = torch.zeros(self.n_permutations + 1, total, dtype=torch.float64)
        members[0, :n] = 1.0  # row 0: the observed split
        for i in range(self.n_permutations):
            # Alibi permutes rows and columns by idx and takes the first n as the reference.
            members[i + 1, torch.randperm(total)[:n]] = 1.0
        in_ref = members @ k  # (permutations, total): each row's kernel sum with the permuted reference
        s_xx = (in_ref * members).sum(1)
        s_xy = (in_ref * (1.0 - members)).sum(1)
        s_yy = k.sum() - s_xx - 2.0 * s_xy
        mmd2 = s_xx / (n * (n - 1)) + s_yy / (m * (m - 1)) - 2.0 * s_xy / (n * m)
        observed, permuted = float(mmd2[0]), mmd2[1:].numpy()
        return MMDTest(float(np.mean(observed <= permuted)), observed, permuted)
