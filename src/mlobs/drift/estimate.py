"""Accuracy estimated without labels, in the manner of NannyML's CBPE.

At training, the classifier's top-class probability is calibrated against correctness on held-out
data (isotonic regression: P(correct | confidence)). A window's expected accuracy is then the mean
calibrated confidence of its predictions, with an interval from the Poisson-binomial variance of
that many independent predictions. It is right as long as P(correct | confidence) holds: under
covariate shift it does; under prior shift (the class mix changes, each class's confidence does
not) and concept shift (the same inputs now mean other labels) it does not, and only labels tell.

Under a class-prior shift the accuracy follows from the class mix instead: each class's inputs, and
so the model's recall on each class, stay as they were, and acc = sum_y q(y) P(pred = y | true = y)
with q the mix black-box shift estimation gives (`prior_shift_accuracy`). The exporter uses it only for
windows whose input change the class mix explains (mlobs.drift.prior); every other window keeps CBPE.
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


def prior_shift_accuracy(shares: np.ndarray, recall: np.ndarray, confusion: np.ndarray, prior: np.ndarray,
                         probs: np.ndarray) -> Estimate:
    """Accuracy of a window under a class-prior shift: sum_y q(y) recall(y), `shares` q estimated from the
    window's `probs` with `confusion` C and held-out `prior` p (mlobs.drift.prior). Its interval is the
    delta method's: unclipped, q = p * C^-1 mu is linear in the window's mean output mu, so the accuracy
    is a . mu with a = C^-T (p * recall), of variance a' S a / n (S the window's output covariance); plus,
    as CBPE's, the binomial spread of that many predictions around their expected accuracy."""
    probs = np.asarray(probs, dtype=np.float64)
    n = len(probs)
    if n < 2:
        raise ValueError("need at least two predictions to estimate accuracy under a prior shift")
    accuracy = float(np.clip(np.dot(shares, recall), 0.0, 1.0))
    a = np.linalg.solve(np.asarray(confusion, dtype=np.float64).T, np.asarray(prior) * np.asarray(recall))
    variance = (float(a @ np.atleast_2d(np.cov(probs, rowvar=False)) @ a) + accuracy * (1.0 - accuracy)) / n
    half = Z95 * float(np.sqrt(max(variance, 0.0)))
    return Estimate(accuracy, max(0.0, accuracy - half), min(1.0, accuracy + half), n)
