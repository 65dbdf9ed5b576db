"""Two-sample tests against a reweighted reference: each reference row counts with a weight.

With equal weights they give the p-values of the detectors they stand in for (Alibi's KSDrift with
scipy's asymptotic two-sided KS, ChiSquareDrift with scipy's chi2_contingency), so a threshold
calibrated for the detector means the same on them. With unequal weights the reference's sample size
is its effective one, (sum w)^2 / sum w^2 (Kish): a reference dominated by a few heavy rows knows less.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import chi2_contingency, kstwo

from mlobs.drift.detectors import DriftResult, ImageStatsKS, TabularChiSquare, TabularKS
from mlobs.drift.detectors.image_stats import image_statistics


def effective_size(weights: np.ndarray) -> float:
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum()
    return float(total * total / np.square(w).sum()) if total > 0 else 0.0


def _normalised(weights: np.ndarray, rows: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (rows,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be {rows} finite non-negative numbers, not all zero")
    return w / w.sum()


def weighted_ks(reference: np.ndarray, weights: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    """Two-sided KS between the weighted reference and the window, one feature: (p-value, distance)."""
    reference = np.asarray(reference, dtype=np.float64)
    window = np.asarray(window, dtype=np.float64)
    w = _normalised(weights, len(reference))
    order = np.argsort(reference, kind="stable")
    ref_sorted, ref_cdf = reference[order], np.cumsum(w[order])
    points = np.concatenate([ref_sorted, window])
    # Both empirical CDFs at every observed value (right-continuous: the value itself included).
    f_ref = np.concatenate([[0.0], ref_cdf])[np.searchsorted(ref_sorted, points, side="right")]
    f_win = np.searchsorted(np.sort(window), points, side="right") / len(window)
    distance = float(np.max(np.abs(f_ref - f_win)))
    m, n = sorted((effective_size(weights), float(len(window))), reverse=True)
    p_value = float(np.clip(kstwo.sf(distance, np.round(m * n / (m + n))), 0.0, 1.0))
    return p_value, distance


def weighted_chi_square(reference: np.ndarray, weights: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    """Chi-square of homogeneity between the weighted reference's category shares (scaled to its effective
    size) and the window's counts, one feature: (p-value, statistic)."""
    reference = np.asarray(reference).astype(str)
    window = np.asarray(window).astype(str)
    w = _normalised(weights, len(reference))
    categories = sorted(set(reference) | set(window))
    ref_counts = np.array([w[reference == c].sum() for c in categories]) * effective_size(weights)
    win_counts = np.array([(window == c).sum() for c in categories], dtype=np.float64)
    table = np.vstack([ref_counts, win_counts])
    table = table[:, table.sum(axis=0) > 0]  # a category no row of either side has weight on tells nothing
    if table.shape[1] < 2:
        return 1.0, 0.0
    statistic, p_value, _, _ = chi2_contingency(table)
    return float(p_value), float(statistic)


def _results(name: str, features: Sequence[str], nominal: float, pairs: list[tuple[float, float]]) -> list[DriftResult]:
    threshold = nominal / len(features)  # Bonferroni, as the detectors correct
    return [DriftResult(name, f, p, s, threshold, p < threshold) for f, (p, s) in zip(features, pairs)]


def reweightable(detector: object) -> bool:
    return isinstance(detector, (TabularKS, TabularChiSquare, ImageStatsKS))


def columns(detector: object, rows: np.ndarray) -> np.ndarray:
    """What the detector's test compares, one column per feature (image statistics for images): computed
    once for a reference. ValueError for a detector whose test has no weighted form here."""
    if isinstance(detector, TabularKS):
        out = np.asarray(rows, dtype=np.float32)
    elif isinstance(detector, ImageStatsKS):
        out = image_statistics(rows)
    elif isinstance(detector, TabularChiSquare):
        out = np.asarray(rows, dtype=object)
    else:
        raise ValueError(f"detector {getattr(detector, 'name', detector)!r} has no reweighted test")
    if out.ndim != 2 or out.shape[1] != len(detector.features):
        raise ValueError(f"expected (samples, {len(detector.features)}) for {detector.name}, got {out.shape}")
    return out


def reweighted(detector: object, reference: np.ndarray, weights: np.ndarray, window: np.ndarray) -> list[DriftResult]:
    """The detector's test of the window against `reference` (its `columns`) with each reference row weighted."""
    win = columns(detector, window)
    test = weighted_chi_square if isinstance(detector, TabularChiSquare) else weighted_ks
    pairs = [test(reference[:, j], weights, win[:, j]) for j in range(reference.shape[1])]
    return _results(detector.name, detector.features, detector.p_value, pairs)
