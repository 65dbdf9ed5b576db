"""MMD two-sample test on image embeddings from an untrained, seeded convolutional encoder
(Failing Loudly's "UAE"): catches input shifts the classifier ignores, such as mild noise."""

from __future__ import annotations

import numpy as np

from mlobs.drift.detectors.base import DriftResult, as_images, require_fitted


def build_encoder(channels: int, height: int, width: int, latent_dim: int = 32, seed: int = 0):
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        conv = nn.Sequential(
            nn.Conv2d(channels, 16, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = conv(torch.zeros(1, channels, height, width)).shape[1]
        encoder = nn.Sequential(conv, nn.Linear(flat, latent_dim))
    return encoder.eval()


class EmbeddingMMD:
    def __init__(
        self,
        p_value: float = 0.05,
        n_permutations: int = 100,
        latent_dim: int = 32,
        seed: int = 0,
        name: str = "embedding_mmd",
    ) -> None:
        self.name = name
        self.p_value = p_value
        self.n_permutations = n_permutations
        self.latent_dim = latent_dim
        self.seed = seed
        self._encoder = None
        self._engine = None
        self._shape: tuple[int, int, int] | None = None

    def fit(self, reference: np.ndarray) -> None:
        from mlobs.drift.detectors.mmd_test import MMDPermutationTest

        reference = as_images(reference)
        self._shape = reference.shape[1:]
        self._encoder = build_encoder(*self._shape, latent_dim=self.latent_dim, seed=self.seed)
        # Alibi's MMDDrift test (Gaussian kernel, bandwidth by the median heuristic on each window's
        # distances to the reference) with the permutations batched: the same answer, several times faster.
        self._engine = MMDPermutationTest(self.embed(reference), self.n_permutations)

    def embed(self, images: np.ndarray) -> np.ndarray:
        import torch

        images = as_images(images)
        if images.shape[1:] != self._shape:
            raise ValueError(f"images of shape {images.shape[1:]} do not match the reference's {self._shape}")
        with torch.no_grad():
            parts = [self._encoder(torch.from_numpy(images[i : i + 256])) for i in range(0, len(images), 256)]
        return torch.cat(parts).numpy()

    def score(self, window: np.ndarray) -> list[DriftResult]:
        import torch

        require_fitted(self._engine, self.name)
        embedded = self.embed(window)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # the permutation test gives the same answer for the same window
            test = self._engine.test(embedded)
        # Alibi's p-value is the share of permutations at least as extreme, which can be 0; counting the
        # observed split as one of them (Phipson & Smyth 2010) keeps the test valid at small thresholds.
        p_value = (test.p_value * self.n_permutations + 1.0) / (self.n_permutations + 1.0)
        return [
            DriftResult(
                detector=self.name,
                feature="",
                p_value=p_value,
                statistic=test.mmd2,
                threshold=self.p_value,
                drift=p_value < self.p_value,
            )
        ]
