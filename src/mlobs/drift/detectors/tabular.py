"""Per-feature tests for tabular models: KS on numeric features, chi-square on categorical ones,
both Bonferroni-corrected across the features of the detector."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlobs.drift.detectors.base import DriftResult, per_feature_results, require_fitted


def _check_columns(x: np.ndarray, features: Sequence[str]) -> None:
    if x.ndim != 2 or x.shape[1] != len(features):
        raise ValueError(f"expected (samples, {len(features)}) for features {list(features)}, got shape {x.shape}")


class TabularKS:
    def __init__(self, features: Sequence[str], p_value: float = 0.05, name: str = "tabular_ks") -> None:
        if not features:
            raise ValueError("TabularKS needs at least one feature name")
        self.name = name
        self.features = tuple(features)
        self.p_value = p_value
        self._engine = None

    def fit(self, reference: np.ndarray) -> None:
        from alibi_detect.cd import KSDrift

        reference = np.asarray(reference, dtype=np.float32)
        _check_columns(reference, self.features)
        self._engine = KSDrift(reference, p_val=self.p_value, correction="bonferroni")

    def score(self, window: np.ndarray) -> list[DriftResult]:
        require_fitted(self._engine, self.name)
        window = np.asarray(window, dtype=np.float32)
        _check_columns(window, self.features)
        return per_feature_results(self.name, self.features, self._engine.predict(window, drift_type="batch")["data"])


class TabularChiSquare:
    """Categories may be strings; a category never seen in the reference counts as one extra category."""

    def __init__(self, features: Sequence[str], p_value: float = 0.05, name: str = "tabular_chi2") -> None:
        if not features:
            raise ValueError("TabularChiSquare needs at least one feature name")
        self.name = name
        self.features = tuple(features)
        self.p_value = p_value
        self._codes: list[dict[str, int]] = []
        self._engine = None

    def _encode(self, x: np.ndarray) -> np.ndarray:
        out = np.empty(x.shape, dtype=np.int64)
        for j, codes in enumerate(self._codes):
            unseen = len(codes)
            out[:, j] = [codes.get(str(v), unseen) for v in x[:, j]]
        return out

    def fit(self, reference: np.ndarray) -> None:
        from alibi_detect.cd import ChiSquareDrift

        reference = np.asarray(reference, dtype=object)
        _check_columns(reference, self.features)
        self._codes = [
            {value: code for code, value in enumerate(sorted({str(v) for v in reference[:, j]}))}
            for j in range(reference.shape[1])
        ]
        self._engine = ChiSquareDrift(self._encode(reference), p_val=self.p_value, correction="bonferroni")

    def score(self, window: np.ndarray) -> list[DriftResult]:
        require_fitted(self._engine, self.name)
        window = np.asarray(window, dtype=object)
        _check_columns(window, self.features)
        data = self._engine.predict(self._encode(window), drift_type="batch")["data"]
        return per_feature_results(self.name, self.features, data)
