"""Decision rules calibrated for the reference that ships.

A two-sample test's p-value is uniform only when the reference is drawn afresh with each window.
The exporter keeps one reference per model version, and conditional on that one sample a test's
false-positive rate can be anywhere from 0 to several times its nominal level, the same on every
window. So at training each detector is scored on many windows drawn from a held-out pool disjoint
from the reference, and its p-value threshold is set where the false-positive rate has a 95% upper
confidence bound at or below TARGET (2.5%) ("order-statistic"): the threshold is the (k+1)-th
smallest of n calibration p-values, whose rate exceeds the target only if fewer than k+1 of the n
windows fall below the target's quantile of the p-values, a Binomial(n, target) tail; k is the
largest count for which that tail is at most 5%. TARGET is half the 5% the detectors are held to in
service: the other half is the margin for live windows that differ from the pool's, and it keeps
the rate low enough for a few hundred clean windows to show it under 5%. The threshold is never
raised above the nominal one. The calibration is written beside the reference (drift_calibration.json) with its
trials, pool sizes and rates; the exporter applies it and exports the threshold in use
(mlobs_drift_threshold).

How the windows are drawn matters when the pool is small. Windows of 200 drawn without repeats from
a pool of 500 vary less than windows of live traffic (they share most rows), and the pool itself
is one finite sample: a threshold right for its windows is too loose for another sample's. A window
drawn with replacement from a bootstrap copy of the pool ("double-bootstrap") spreads as much as
the pool's own sampling error plus a live window's, but around the pool, not around the population:
a pool that happens to sit to one side of the population gives a threshold too loose for traffic on
the other side. So by default each window is drawn from a bootstrap copy of a bootstrap copy
("nested-bootstrap"): the pool's sampling error counted twice, the margin for traffic (or another
sample of it, as an evaluation pool is) to sit as far on the other side, plus a window's own
spread. With a large pool the error is small and the threshold barely moves; with a small one it
is what a fixed reference needs to hold its rate on another sample, not only on average.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from mlobs.drift.estimate import AccuracyEstimator
from mlobs.drift.settings import DriftSettings

CALIBRATION_FILE = "drift_calibration.json"
WINDOWS = (50, 200)
TARGET = 0.025  # the calibration windows' false-positive rate, bounded with CONFIDENCE
CONFIDENCE = 0.95
METHOD = "order-statistic"
FORMAT = 1


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% interval of a rate of `hits` in `n` trials."""
    if n == 0:
        return 0.0, 1.0
    rate = hits / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1)))


def rate_bound(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """Upper `confidence` bound on the false-positive rate of the threshold at the (k+1)-th smallest of
    n null p-values: the rate r at which P(Binomial(n, r) <= k) = 1 - confidence (bisection)."""
    if k >= n:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        if binomial_cdf(k, n, mid) > 1 - confidence:
            low = mid
        else:
            high = mid
    return high


@lru_cache(maxsize=64)
def admitted(n: int, target: float = TARGET, confidence: float = CONFIDENCE) -> int:
    """The most null windows of n a threshold may admit while its rate's upper `confidence` bound stays at
    or below `target`; -1 if even none is enough (too few windows to show the target)."""
    k = -1
    while k + 1 < n and binomial_cdf(k + 1, n, target) <= 1 - confidence:
        k += 1
    return k


def choose_threshold(p_values: np.ndarray, nominal: float, target: float = TARGET,
                     confidence: float = CONFIDENCE) -> float:
    """The threshold (decision p < threshold) at the order statistic of these null p-values whose
    false-positive rate has an upper `confidence` bound at or below `target`, never above `nominal`.
    With too few windows for any order statistic to show the target, the smallest p-value: the
    strictest rule the windows support (its bound, recorded by calibrate, says how far it is from it)."""
    p = np.sort(np.asarray(p_values, dtype=np.float64))
    k = max(admitted(len(p), target, confidence), 0)
    # p < p[k] admits at most k windows (fewer with ties).
    candidate = p[k] if k < len(p) else 1.0
    return float(min(nominal, candidate))


@dataclass(frozen=True)
class Rule:
    window: int
    threshold: float
    nominal: float
    trials: int
    nominal_rate: float  # share of calibration windows flagged at the nominal threshold
    calibrated_rate: float
    rate_bound: float | None = None  # upper CONFIDENCE bound on the calibrated threshold's rate


class Calibration:
    """Per detector, the threshold for each calibrated window size."""

    def __init__(self, data: dict):
        self.data = data
        self.rules: dict[str, list[Rule]] = {
            name: sorted((Rule(**r) for r in d["rules"]), key=lambda r: r.window)
            for name, d in data.get("detectors", {}).items()
        }
        self.target: float | None = data.get("target")
        self.method: str = data.get("method", "")
        estimator = data.get("accuracy_estimator")
        self.estimator = AccuracyEstimator.from_dict(estimator) if estimator else None

    def threshold(self, detector: str, window: int) -> float | None:
        """The threshold of the smallest calibrated window at least this large (a fixed reference's
        bias grows with the window, so a larger window's threshold is the safer one), else the largest."""
        rules = self.rules.get(detector)
        if not rules:
            return None
        for rule in rules:
            if rule.window >= window:
                return rule.threshold
        return rules[-1].threshold


SAMPLINGS = ("nested-bootstrap", "double-bootstrap", "bootstrap", "subsample")


def draw_window(rng: np.random.Generator, rows: int, window: int, sampling: str) -> np.ndarray:
    """Row indices of one calibration window from a pool of `rows`: "subsample" (no row twice: too
    little spread from a small pool), "bootstrap" (a live window's spread around the pool),
    "double-bootstrap" (a live window's spread around a population the pool is one sample of) or
    "nested-bootstrap" (around another finite sample of that population, as traffic is)."""
    if sampling == "subsample":
        return rng.choice(rows, window, replace=False)
    if sampling == "bootstrap":
        return rng.choice(rows, window, replace=True)
    if sampling == "double-bootstrap":
        return rng.choice(rng.choice(rows, rows, replace=True), window, replace=True)
    if sampling == "nested-bootstrap":
        copy = rng.choice(rng.choice(rows, rows, replace=True), rows, replace=True)
        return rng.choice(copy, window, replace=True)
    raise ValueError(f"unknown sampling {sampling!r}; one of {SAMPLINGS}")


def _window_p_value(detector, window: np.ndarray) -> tuple[float, float]:
    results = detector.score(window)
    return min(r.p_value for r in results), results[0].threshold


def calibrate(reference: dict[str, np.ndarray], pool: dict[str, np.ndarray], *, settings: DriftSettings | None = None,
              windows=WINDOWS, trials: int = 200, target: float = TARGET, seed: int = 0,
              sampling: str = SAMPLINGS[0]) -> dict:
    """Calibrate every detector `plan` makes for `reference` on windows drawn from `pool` (the same keys
    as the reference, rows disjoint from it). Returns the JSON-ready calibration."""
    from mlobs.drift.plan import plan

    settings = settings or DriftSettings()
    rng = np.random.default_rng(seed)
    detectors: dict[str, dict] = {}
    for p in plan(reference, settings):
        data = pool.get(p.reference_key)
        if data is None:
            continue
        rules = []
        for w in windows:
            if w > len(data):
                continue
            p_values, nominal = [], None
            for _ in range(trials):
                value, nominal = _window_p_value(p.detector, data[draw_window(rng, len(data), w, sampling)])
                p_values.append(value)
            p_values = np.asarray(p_values)
            threshold = choose_threshold(p_values, nominal, target)
            flagged = int(np.sum(p_values < threshold))
            rules.append({"window": w, "threshold": threshold, "nominal": nominal, "trials": trials,
                          "nominal_rate": float(np.mean(p_values < nominal)),
                          "calibrated_rate": flagged / trials, "rate_bound": rate_bound(flagged, trials)})
        detectors[p.detector.name] = {"reference_rows": int(len(reference[p.reference_key])),
                                      "pool_rows": int(len(data)), "rules": rules}
    return {"format": FORMAT, "target": target, "confidence": CONFIDENCE, "method": METHOD, "sampling": sampling,
            "description": f"held-out windows disjoint from the reference ({sampling}); each threshold at the "
            f"order statistic of the windows' p-values whose false-positive rate has a {CONFIDENCE:.0%} upper "
            f"bound at or below {target:.1%}, never above the nominal threshold", "detectors": detectors}


def write_calibration(directory: Path | str, reference: dict[str, np.ndarray], pool: dict[str, np.ndarray], *,
                      labels: np.ndarray | None = None, labelled_probs: np.ndarray | None = None, **options) -> Path:
    """Calibrate (see calibrate) and write drift_calibration.json into the version directory. With
    `labels` (true class indices of `labelled_probs`, held-out rows), fit the accuracy estimator too."""
    data = calibrate(reference, pool, **options)
    if labels is not None and labelled_probs is not None:
        data["accuracy_estimator"] = AccuracyEstimator.fit(labelled_probs, labels).to_dict()
    directory = Path(directory)
    path = directory / CALIBRATION_FILE
    tmp = directory / (CALIBRATION_FILE + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)
    return path


def load_calibration(directory: Path | str) -> Calibration | None:
    """The version's calibration, or None if it has none (then nominal thresholds apply)."""
    path = Path(directory) / CALIBRATION_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown calibration format {data.get('format')!r}")
    return Calibration(data)
