"""Black-box shift estimation (Lipton, Wang & Smola, ICML 2018): the class mix of live traffic without
labels, and whether a change in the class mix alone explains the inputs' drift.

Under a prior (label) shift each class's inputs stay as they were, p(x | y) fixed, and only q(y)
moves. Then whatever the model outputs, its expected output is the mix of its per-class expectations:
mu = C w, with C[i, j] = E[f_i(x) 1{y = j}] on held-out data and w(y) = q(y) / p(y). So from the
window's mean output mu, w = C^-1 mu (clipped at 0, renormalised so that sum_y w(y) p(y) = 1) and
q(y) = w(y) p(y). f is the model's probability vector ("soft" BBSE): the same identity holds as for
hard predictions, with less variance, above all for a model whose hard predictions rarely pick the
rare class.

Whether the input change is what that prior shift gives: each held-out reference row is weighted by
w(its true label) and the model's input tests are run again against the reweighted reference. If the
unweighted tests flag and the reweighted ones do not, the window's inputs look like the reference's
classes in the new mix: a prior shift. A covariate shift (incomes lower for everyone) stays flagged,
since no mix of the training classes has those inputs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlobs.drift.detectors import DriftResult
from mlobs.drift.estimate import Estimate, prior_shift_accuracy
from mlobs.drift.plan import Planned
from mlobs.drift.weighted import columns, reweightable, reweighted

log = logging.getLogger(__name__)

OUTPUTS = "probs"  # the reference key of the tests of the model's outputs; every other key is an input
LABELS = "labels"  # the reference key of the held-out rows' true class indices
# A confusion matrix this ill-conditioned would amplify a window's noise past any use.
MAX_CONDITION = 1e4


@dataclass(frozen=True)
class PriorEstimate:
    shares: np.ndarray  # q(y), sums to 1
    weights: np.ndarray  # w(y) = q(y) / p(y)


class PriorShiftEstimator:
    def __init__(self, probs: np.ndarray, labels: np.ndarray) -> None:
        """`probs` the model's outputs on held-out rows, `labels` their true class indices."""
        probs = np.asarray(probs, dtype=np.float64)
        labels = np.asarray(labels).astype(np.int64)
        if probs.ndim != 2 or labels.shape != (len(probs),) or len(probs) == 0:
            raise ValueError(f"need (n, classes) probabilities and n labels, got {probs.shape} and {labels.shape}")
        k = probs.shape[1]
        if labels.min() < 0 or labels.max() >= k:
            raise ValueError(f"labels must be class indices 0..{k - 1}")
        self.prior = np.bincount(labels, minlength=k) / len(labels)
        if np.any(self.prior == 0):
            missing = np.nonzero(self.prior == 0)[0].tolist()
            raise ValueError(f"classes {missing} have no held-out row: their share cannot be estimated")
        onehot = np.eye(k)[labels]
        self.confusion = probs.T @ onehot / len(labels)  # C[i, j] = E[f_i(x) 1{y = j}]
        condition = np.linalg.cond(self.confusion)
        if not condition < MAX_CONDITION:
            raise ValueError(f"the held-out confusion matrix is ill-conditioned (condition number {condition:.3g}): "
                             "the model's outputs barely differ between classes")
        self.labels = labels
        predicted = probs.argmax(axis=1)
        # P(pred = y | true = y): unchanged by a prior shift, which leaves each class's inputs as they were.
        self.recall = np.array([float(np.mean(predicted[labels == j] == j)) for j in range(k)])

    @property
    def classes(self) -> int:
        return len(self.prior)

    def estimate(self, probs: np.ndarray) -> PriorEstimate:
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim != 2 or probs.shape[1] != self.classes or len(probs) == 0:
            raise ValueError(f"need (n, {self.classes}) probabilities, got {probs.shape}")
        w = np.clip(np.linalg.solve(self.confusion, probs.mean(axis=0)), 0.0, None)
        q = w * self.prior
        if q.sum() <= 0:
            q = self.prior.copy()
        q = q / q.sum()
        return PriorEstimate(q, q / self.prior)

    def accuracy(self, estimate: PriorEstimate, probs: np.ndarray) -> Estimate:
        """The window's accuracy if the class mix is all that changed (mlobs.drift.estimate)."""
        return prior_shift_accuracy(estimate.shares, self.recall, self.confusion, self.prior, probs)

    def row_weights(self, estimate: PriorEstimate) -> np.ndarray:
        """The weight of each held-out reference row: w(its true label)."""
        return estimate.weights[self.labels]


@dataclass(frozen=True)
class Explanation:
    estimate: PriorEstimate
    flagged: tuple[str, ...]  # input detectors that flagged against the reference as it is
    still_flagged: tuple[str, ...]  # of those that can be reweighted, the ones that still flag
    unweighable: tuple[str, ...]  # flagged input detectors with no reweighted test

    @property
    def explains(self) -> bool:
        """The input change is what the estimated class mix alone gives."""
        return bool(self.flagged) and not self.still_flagged and not self.unweighable


def window_probs(samples: list[dict]) -> np.ndarray:
    """The model outputs a window holds, one row per sample that carries them."""
    return np.asarray([s["probs"] for s in samples if s.get("probs") is not None], dtype=np.float64)


def explain(estimator: PriorShiftEstimator, planned: list[Planned], reference: dict[str, np.ndarray],
            samples: list[dict], results: dict[str, list[DriftResult]], probs: np.ndarray | None = None) -> Explanation:
    """Estimate the window's class mix and re-run each flagged input test against the reference weighted to
    it, decided by the detector's own (calibrated) threshold. `results` holds this window's decided results
    by detector name; `reference` the reference `columns` of each detector that can be reweighted, by name;
    `probs` the window's outputs if the caller has them already (`window_probs`)."""
    probs = window_probs(samples) if probs is None else probs
    estimate = estimator.estimate(probs)
    weights = estimator.row_weights(estimate)
    flagged, still, unweighable = [], [], []
    for p in planned:
        name = p.detector.name
        if p.reference_key == OUTPUTS or not any(r.drift for r in results.get(name, ())):
            continue
        flagged.append(name)
        if not reweightable(p.detector) or name not in reference:
            unweighable.append(name)
            continue
        window = p.extract(samples)
        decided = p.decide(reweighted(p.detector, reference[name], weights, window), len(window))
        if any(r.drift for r in decided):
            still.append(name)
    return Explanation(estimate, tuple(flagged), tuple(still), tuple(unweighable))


class PriorShift:
    """One model version's estimator, the reference columns of its reweighted tests and its class names."""

    def __init__(self, estimator: PriorShiftEstimator, reference: dict[str, np.ndarray], classes: list[str]) -> None:
        if len(classes) != estimator.classes:
            raise ValueError(f"{len(classes)} class names for {estimator.classes} classes")
        self.estimator = estimator
        self.reference = reference
        self.classes = classes

    def reference_share(self, cls: str) -> float:
        return float(self.estimator.prior[self.classes.index(cls)])

    def explain(self, planned: list[Planned], samples: list[dict], results: dict[str, list[DriftResult]],
                probs: np.ndarray | None = None) -> Explanation:
        return explain(self.estimator, planned, self.reference, samples, results, probs)


def _class_names(directory: Path, classes: int) -> list[str]:
    from mlobs.artifacts import load_info

    try:
        names = [str(c) for c in load_info(directory).classes]
    except (OSError, ValueError, KeyError, TypeError):
        names = []
    return names if len(names) == classes else [str(i) for i in range(classes)]


def load_prior_shift(directory: Path | str, reference: dict[str, np.ndarray],
                     planned: list[Planned]) -> PriorShift | None:
    """The version's class-prior estimator, or None (logged) if its reference cannot give one: no model
    outputs, or no held-out labels (a version trained before they were written: train it again)."""
    directory = Path(directory)
    if OUTPUTS not in reference:
        return None
    if LABELS not in reference:
        log.info("no class-prior estimate for %s/%s: its reference has no held-out labels (%r in %s); "
                 "train the model again to write them", directory.parent.name, directory.name, LABELS,
                 "reference.npz")
        return None
    try:
        estimator = PriorShiftEstimator(reference[OUTPUTS], reference[LABELS])
    except ValueError as exc:
        log.warning("no class-prior estimate for %s/%s: %s", directory.parent.name, directory.name, exc)
        return None
    prepared = {}
    for p in planned:
        if p.reference_key == OUTPUTS or not reweightable(p.detector):
            continue
        rows = reference[p.reference_key]
        if len(rows) != len(reference[LABELS]):
            log.warning("no reweighted %s test for %s/%s: %d reference rows but %d labels", p.detector.name,
                        directory.parent.name, directory.name, len(rows), len(reference[LABELS]))
            continue
        prepared[p.detector.name] = columns(p.detector, rows)
    return PriorShift(estimator, prepared, _class_names(directory, estimator.classes))
