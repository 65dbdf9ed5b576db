"""Which detectors a model version gets, from the keys of its reference, and which part of each
shipped sample each detector reads.

A shipped sample is a dict with any of: "probs" (list of class probabilities), "image" (the
preprocessed image array), "text" (str), "features" (dict feature name -> value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlobs.drift.detectors import (
    Detector,
    EmbeddingMMD,
    ImageStatsKS,
    SoftmaxKS,
    TabularChiSquare,
    TabularKS,
    TextOOV,
)
from mlobs.drift.settings import DriftSettings


@dataclass
class Planned:
    detector: Detector
    reference_key: str
    extract: Callable[[list[dict]], np.ndarray]  # samples -> the window array (rows without the field skipped)


def _field(key: str, dtype: object = np.float32) -> Callable[[list[dict]], np.ndarray]:
    def extract(samples: list[dict]) -> np.ndarray:
        rows = [s[key] for s in samples if s.get(key) is not None]
        return np.asarray(rows, dtype=dtype) if rows else np.empty((0,), dtype=dtype)

    return extract


def _columns(names: list, dtype: object) -> Callable[[list[dict]], np.ndarray]:
    names = [str(n) for n in names]

    def extract(samples: list[dict]) -> np.ndarray:
        rows = [
            [s["features"][n] for n in names]
            for s in samples
            if isinstance(s.get("features"), dict) and all(n in s["features"] for n in names)
        ]
        return np.asarray(rows, dtype=dtype) if rows else np.empty((0, len(names)), dtype=dtype)

    return extract


def plan(reference: dict[str, np.ndarray], settings: DriftSettings) -> list[Planned]:
    """Fit one detector per signal the reference holds. Raises ValueError if it holds none."""
    planned: list[Planned] = []
    alpha = settings.p_value
    if "probs" in reference:
        planned.append(Planned(SoftmaxKS(alpha), "probs", _field("probs")))
    if "images" in reference:
        planned.append(Planned(ImageStatsKS(alpha), "images", _field("image")))
        planned.append(Planned(EmbeddingMMD(alpha, n_permutations=settings.mmd_permutations), "images", _field("image")))
    if "texts" in reference and "vocabulary" in reference:
        planned.append(Planned(TextOOV(reference["vocabulary"], alpha), "texts", _field("text", dtype=str)))
    if "numeric" in reference and "numeric_features" in reference:
        numeric = list(reference["numeric_features"])
        planned.append(Planned(TabularKS(numeric, alpha), "numeric", _columns(numeric, np.float32)))
    if "categorical" in reference and "categorical_features" in reference:
        planned.append(
            Planned(
                TabularChiSquare(list(reference["categorical_features"]), alpha),
                "categorical",
                _columns(reference["categorical_features"], object),
            )
        )
    if not planned:
        raise ValueError(f"reference holds no known signal (keys: {sorted(reference)})")
    for p in planned:
        p.detector.fit(reference[p.reference_key])
    return planned
