"""Out-of-distribution score per input from the model version's drift reference.

Each signal turns an input into a raw score (text: out-of-vocabulary rate; image: mean squared
z-score of a 7x7 pooled image; tabular: largest |z| of a numeric feature, or an unseen category)
and reports its rank among the reference's own raw scores: 0.995 means "beyond 99.5% of the
reference". A sample's score is the highest rank of its signals. Cost is bounded per input.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

MAX_TEXT_CHARS = 2_000
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern (TF-IDF vocabularies)


class Ranks:
    def __init__(self, reference_scores: np.ndarray):
        self.sorted = np.sort(np.asarray(reference_scores, dtype=np.float64).ravel())
        if self.sorted.size == 0:
            raise ValueError("no reference scores")

    def rank(self, raw: float) -> float:
        if raw != raw:  # NaN: nothing like the reference
            return 1.0
        return float(np.searchsorted(self.sorted, raw, side="left")) / self.sorted.size


class TextSignal:
    key = "text"

    def __init__(self, vocabulary, reference_texts):
        self.vocabulary = frozenset(str(w) for w in vocabulary if " " not in str(w))
        self.ranks = Ranks([self.raw(t) for t in reference_texts])

    def raw(self, text: str) -> float:
        tokens = _TOKEN.findall(str(text)[:MAX_TEXT_CHARS].lower())
        if not tokens:
            return 1.0
        return sum(t not in self.vocabulary for t in tokens) / len(tokens)


class ImageSignal:
    key = "image"
    POOL = 4

    def __init__(self, reference_images: np.ndarray):
        pooled = np.stack([self._pool(i) for i in reference_images])
        self.mean = pooled.mean(axis=0)
        self.std = pooled.std(axis=0) + 1e-3
        self.ranks = Ranks([self._z2(p) for p in pooled])

    def _pool(self, image) -> np.ndarray:
        a = np.asarray(image, dtype=np.float32)
        a = a.reshape(a.shape[-2], a.shape[-1]) if a.ndim > 2 else a
        h, w = (a.shape[0] // self.POOL) * self.POOL, (a.shape[1] // self.POOL) * self.POOL
        return a[:h, :w].reshape(h // self.POOL, self.POOL, w // self.POOL, self.POOL).mean(axis=(1, 3)).ravel()

    def _z2(self, pooled: np.ndarray) -> float:
        return float(np.mean(((pooled - self.mean) / self.std) ** 2))

    def raw(self, image) -> float:
        pooled = self._pool(image)
        if pooled.shape != self.mean.shape:
            return float("inf")
        return self._z2(pooled)


class TabularSignal:
    key = "features"

    def __init__(self, numeric_names, numeric, categorical_names=(), categorical=None):
        self.numeric_names = [str(n) for n in numeric_names]
        numeric = np.asarray(numeric, dtype=np.float64)
        self.mean, self.std = numeric.mean(axis=0), numeric.std(axis=0) + 1e-9
        self.categories = {}
        if categorical is not None:
            for j, name in enumerate(categorical_names):
                self.categories[str(name)] = frozenset(str(v) for v in np.asarray(categorical)[:, j])
        self.ranks = Ranks(np.abs((numeric - self.mean) / self.std).max(axis=1))

    def raw(self, features: dict) -> float:
        for name, seen in self.categories.items():
            if name in features and str(features[name]) not in seen:
                return float("inf")
        try:
            row = np.array([float(features[n]) for n in self.numeric_names])
        except (KeyError, TypeError, ValueError):
            return float("inf")
        return float(np.abs((row - self.mean) / self.std).max())


class OODScorer:
    def __init__(self, signals: list):
        if not signals:
            raise ValueError("an OOD scorer needs at least one signal")
        self.signals = signals

    def score(self, sample: dict) -> float | None:
        """The highest rank of the sample's signals, or None if the sample holds none of them."""
        best = None
        for s in self.signals:
            value = sample.get(s.key)
            if value is not None:
                rank = s.ranks.rank(s.raw(value))
                best = rank if best is None else max(best, rank)
        return best


def scorer_from_reference(reference: dict[str, np.ndarray]) -> OODScorer | None:
    """A scorer from whatever the reference holds (mlobs.drift.reference keys); None if nothing usable."""
    signals: list = []
    if "texts" in reference and "vocabulary" in reference:
        signals.append(TextSignal(reference["vocabulary"], reference["texts"]))
    if "images" in reference:
        signals.append(ImageSignal(reference["images"]))
    if "numeric" in reference and "numeric_features" in reference:
        signals.append(TabularSignal(reference["numeric_features"], reference["numeric"],
                                     reference.get("categorical_features", ()), reference.get("categorical")))
    return OODScorer(signals) if signals else None


Scorer = Callable[[dict], "float | None"]
