"""Which detectors a model version gets, from the keys of its reference, and which part of each
shipped sample each detector reads.

A shipped sample is a dict with any of: "probs" (list of class probabilities), "image" (the
preprocessed image array), "text" (str), "features" (dict feature name -> value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from mlobs.drift.detectors import (
    ConfidenceExceedance,
    Detector,
    EmbeddingMMD,
    ImageExceedance,
    ImageStatsKS,
    SoftmaxKS,
    TabularChiSquare,
    TabularKS,
    TextExceedance,
    TextOOV,
)
from mlobs.drift.settings import DriftSettings

if TYPE_CHECKING:  # calibrating runs the plan's detectors: only the type comes back
    from mlobs.drift.calibration import Calibration


@dataclass
class Planned:
    detector: Detector
    reference_key: str
    extract: Callable[[list[dict]], np.ndarray]  # samples -> the window array (rows without the field skipped)
    calibration: Calibration | None = None
    field: str | None = None  # the sample's field extract reads, where it leaves out rows not shaped as the reference's

    def decide(self, results: list, window: int) -> list:
        """The results under the threshold calibrated for this reference and window size, if any."""
        threshold = self.calibration.threshold(self.detector.name, window) if self.calibration else None
        if threshold is None:
            return results
        return [replace(r, threshold=threshold, drift=r.p_value < threshold) for r in results]


def _field(key: str, dtype: object = np.float32, shape: tuple[int, ...] | None = None
           ) -> Callable[[list[dict]], np.ndarray]:
    """The window's `key` values as one array. With `shape` (a reference row's), a value of another shape or
    not numeric is left out rather than failing the whole window's array."""
    def extract(samples: list[dict]) -> np.ndarray:
        rows = [s[key] for s in samples if s.get(key) is not None]
        if shape is None:
            return np.asarray(rows, dtype=dtype) if rows else np.empty((0,), dtype=dtype)
        kept = []
        for row in rows:
            try:
                array = np.asarray(row, dtype=dtype)
            except (TypeError, ValueError):
                continue
            if array.shape == shape:
                kept.append(array)
        return np.stack(kept) if kept else np.empty((0, *shape), dtype=dtype)

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


def plan(
    reference: dict[str, np.ndarray], settings: DriftSettings, calibration: Calibration | None = None
) -> list[Planned]:
    """Fit one detector per signal the reference holds, deciding by `calibration` where it has a rule.
    Raises ValueError if the reference holds no known signal."""
    planned: list[Planned] = []
    alpha = settings.p_value
    if "probs" in reference:
        outputs = _field("probs", shape=tuple(reference["probs"].shape[1:]))
        planned.append(Planned(SoftmaxKS(alpha), "probs", outputs, field="probs"))
        planned.append(Planned(ConfidenceExceedance(alpha, settings.exceedance_quantile), "probs", outputs,
                               field="probs"))
    if "images" in reference:
        images = _field("image", shape=tuple(reference["images"].shape[1:]))
        planned.append(Planned(ImageStatsKS(alpha), "images", images, field="image"))
        mmd = EmbeddingMMD(alpha, n_permutations=settings.mmd_permutations)
        planned.append(Planned(mmd, "images", images, field="image"))
        planned.append(Planned(ImageExceedance(alpha, settings.image_exceedance_quantile), "images", images,
                               field="image"))
    if "texts" in reference and "vocabulary" in reference:
        texts = _field("text", dtype=str)
        planned.append(Planned(TextOOV(reference["vocabulary"], alpha), "texts", texts))
        planned.append(Planned(TextExceedance(reference["vocabulary"], alpha, settings.exceedance_quantile), "texts",
                               texts))
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
        p.calibration = calibration
    return planned
