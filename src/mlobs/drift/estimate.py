"""Accuracy estimated without labels, in the manner of NannyML's CBPE.

At training, the classifier's top-class probability is calibrated against correctness on held-out
data (isotonic regression: P(correct | confidence)). A window's expected accuracy is then the mean
calibrated confidence of its predictions, with an interval from the Poisson-binomial variance of
that many independent predictions. It is right as long as P(correct | confidence) holds: under
covariate shift it does; under prior shift (the class mix changes, each class's confidence does
not) and concept shift (the same inputs now mean other labels) it does not, and only labels tell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.959964


@dataclass(frozen=True)
class Estimate:
    accuracy: float
    lower: float
    upper: float
    samples: int


class AccuracyEstimator:
    def __init__(self, confidence: np.ndarray, correct: np.ndarray, baseline: float, fitted_on: int):
        """`confidence` ascending knots and `correct` the calibrated accuracy at each (piecewise linear)."""
        self.confidence = np.asarray(confidence, dtype=np.float64)
        self.correct = np.asarray(correct, dtype=np.float64)
        if self.confidence.ndim != 1 or self.confidence.shape != self.correct.shape or self.confidence.size == 0:
            raise ValueError("an accuracy estimator needs matching, non-empty knots")
        self.baseline = float(baseline)
        self.fitted_on = int(fitted_on)

    @classmethod
    def fit(cls, probs: np.ndarray, labels: np.ndarray) -> AccuracyEstimator:
        """`labels`: the true class index of each row of held-out `probs` (not used in training)."""
        from sklearn.isotonic import IsotonicRegression

        probs = np.asarray(probs, dtype=np.float64)
        confidence = probs.max(axis=1)
        correct = (probs.argmax(axis=1) == np.asarray(labels)).astype(np.float64)
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(confidence, correct)
        return cls(iso.X_thresholds_, iso.y_thresholds_, float(correct.mean()), len(correct))

    def calibrated(self, probs: np.ndarray) -> np.ndarray:
        confidence = np.asarray(probs, dtype=np.float64).max(axis=1)
        return np.interp(confidence, self.confidence, self.correct)

    def estimate(self, probs: np.ndarray) -> Estimate:
        c = self.calibrated(probs)
        n = len(c)
        if n == 0:
            raise ValueError("no predictions to estimate accuracy from")
        mean = float(c.mean())
        half = Z95 * float(np.sqrt(np.sum(c * (1.0 - c)))) / n
        return Estimate(mean, max(0.0, mean - half), min(1.0, mean + half), n)

    def to_dict(self) -> dict:
        return {"confidence": self.confidence.tolist(), "correct": self.correct.tolist(),
                "baseline": self.baseline, "fitted_on": self.fitted_on}

    @classmethod
    def from_dict(cls, data: dict) -> AccuracyEstimator:
        return cls(data["confidence"], data["correct"], data["baseline"], data["fitted_on"])
