"""Decision rules calibrated for the reference that ships.

A two-sample test's p-value is uniform only when the reference is drawn afresh with each window.
The exporter keeps one reference per model version, and conditional on that one sample a test's
false-positive rate can be anywhere from 0 to several times its nominal level, the same on every
window. So at training each detector is scored on many windows drawn from a held-out pool disjoint
from the reference, and its p-value threshold is lowered until the false-positive rate on those
windows has a 95% upper bound at or below the target. The threshold is never raised above the
nominal one. The calibration is written beside the reference (drift_calibration.json) with its
trials, pool sizes and rates; the exporter applies it and exports the threshold in use
(mlobs_drift_threshold).

How the windows are drawn matters when the pool is small. Windows of 200 drawn without repeats from
a pool of 500 vary less than windows of live traffic (they share most rows), and the pool itself
is one finite sample: a threshold right for its windows is too loose for another pool's. By
default each window is drawn from a fresh bootstrap copy of the pool, with replacement
("double-bootstrap"): its spread is then that of the pool's own sampling error plus a live
window's, so the threshold holds for windows of traffic the pool never saw.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlobs.drift.estimate import AccuracyEstimator
from mlobs.drift.settings import DriftSettings

CALIBRATION_FILE = "drift_calibration.json"
WINDOWS = (50, 200)
TARGET = 0.05
FORMAT = 1


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% interval of a rate of `hits` in `n` trials."""
    if n == 0:
        return 0.0, 1.0
    rate = hits / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def choose_threshold(p_values: np.ndarray, nominal: float, target: float = TARGET) -> float:
    """The largest threshold at or below `nominal` whose rate over these null windows has a 95%
    upper bound at or below `target` (the decision is p < threshold)."""
    p = np.sort(np.asarray(p_values, dtype=np.float64))
    n = len(p)
    allowed = 0
    while allowed + 1 <= n and wilson(allowed + 1, n)[1] <= target:
        allowed += 1
    # p < p[allowed] admits at most `allowed` windows (fewer with ties).
    candidate = p[allowed] if allowed < n else 1.0
    return float(min(nominal, candidate))


@dataclass(frozen=True)
class Rule:
    window: int
    threshold: float
    nominal: float
    trials: int
    nominal_rate: float  # share of calibration windows flagged at the nominal threshold
    calibrated_rate: float


class Calibration:
    """Per detector, the threshold for each calibrated window size."""

    def __init__(self, data: dict):
        self.data = data
        self.rules: dict[str, list[Rule]] = {
            name: sorted((Rule(**r) for r in d["rules"]), key=lambda r: r.window)
            for name, d in data.get("detectors", {}).items()
        }
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


SAMPLINGS = ("double-bootstrap", "bootstrap", "subsample")


def draw_window(rng: np.random.Generator, rows: int, window: int, sampling: str) -> np.ndarray:
    """Row indices of one calibration window from a pool of `rows`: "subsample" (no row twice: too
    little spread from a small pool), "bootstrap" (a live window's spread around the pool) or
    "double-bootstrap" (a live window's spread around a population the pool is one sample of)."""
    if sampling == "subsample":
        return rng.choice(rows, window, replace=False)
    if sampling == "bootstrap":
        return rng.choice(rows, window, replace=True)
    if sampling == "double-bootstrap":
        return rng.choice(rng.choice(rows, rows, replace=True), window, replace=True)
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
            rules.append({"window": w, "threshold": threshold, "nominal": nominal, "trials": trials,
                          "nominal_rate": float(np.mean(p_values < nominal)),
                          "calibrated_rate": float(np.mean(p_values < threshold))})
        detectors[p.detector.name] = {"reference_rows": int(len(reference[p.reference_key])),
                                      "pool_rows": int(len(data)), "rules": rules}
    return {"format": FORMAT, "target": target, "sampling": sampling,
            "method": f"held-out windows disjoint from the reference ({sampling}), threshold at the 95% upper "
            "bound of the false-positive rate", "detectors": detectors}


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
