"""Drift detectors behind one small interface. Alibi Detect (BSL 1.1 licence) runs the KS and chi-square
tests; the embedding MMD runs Alibi's permutation test batched in torch (mmd_test), and the exceedance
tests are numpy and scipy alone.

Importing this package is cheap: alibi-detect and torch load on the first fit()."""

from mlobs.drift.detectors.base import Detector, DriftResult, NotFittedError
from mlobs.drift.detectors.embedding_mmd import EmbeddingMMD
from mlobs.drift.detectors.exceedance import ConfidenceExceedance, ImageExceedance
from mlobs.drift.detectors.image_stats import ImageStatsKS
from mlobs.drift.detectors.softmax_ks import SoftmaxKS
from mlobs.drift.detectors.tabular import TabularChiSquare, TabularKS
from mlobs.drift.detectors.text_oov import TextExceedance, TextOOV

__all__ = [
    "ConfidenceExceedance",
    "Detector",
    "DriftResult",
    "EmbeddingMMD",
    "ImageExceedance",
    "ImageStatsKS",
    "NotFittedError",
    "SoftmaxKS",
    "TabularChiSquare",
    "TabularKS",
    "TextExceedance",
    "TextOOV",
]
