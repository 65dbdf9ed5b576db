"""Black-box shift detection: KS tests on the classifier's softmax outputs, Bonferroni-corrected
(Rabanser et al., Failing Loudly, 2019). Takes the probabilities the service already computed."""

from __future__ import annotations

import numpy as np

from mlobs.drift.detectors.base import DriftResult, require_fitted


class SoftmaxKS:
    def __init__(self, p_value: float = 0.05, name: str = "softmax_ks") -> None:
        self.name = name
        self.p_value = p_value
        self._engine = None

    def fit(self, reference: np.ndarray) -> None:
        from alibi_detect.cd import KSDrift

        reference = _as_probs(reference)
        self._engine = KSDrift(reference, p_val=self.p_value, correction="bonferroni")

    def score(self, window: np.ndarray) -> list[DriftResult]:
        require_fitted(self._engine, self.name)
        data = self._engine.predict(_as_probs(window), drift_type="batch")["data"]
        p_values = np.asarray(data["p_val"], dtype=float)
        return [
            DriftResult(
                detector=self.name,
                feature="",
                p_value=float(p_values.min()),
                statistic=float(np.max(data["distance"])),
                threshold=float(data["threshold"]),
                drift=bool(data["is_drift"]),
            )
        ]


def _as_probs(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"softmax outputs must be 2-D (samples, classes), got shape {x.shape}")
    return x
