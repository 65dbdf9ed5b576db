"""The text signals: each text's out-of-vocabulary rate against the training vocabulary, compared with
held-out reference texts by a two-sample KS test over the window (alibi KSDrift on one feature), and
counted text by text past the reference's own quantile (a drifting share of texts)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np

from mlobs.drift.detectors.base import DriftResult, require_fitted
from mlobs.drift.detectors.exceedance import ConfidenceExceedance

_TOKEN = re.compile(r"[a-z0-9']+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class TextOOV:
    def __init__(
        self,
        vocabulary: Iterable[str],
        p_value: float = 0.05,
        tokenizer: Callable[[str], list[str]] = tokenize,
        name: str = "text_oov",
    ) -> None:
        self.name = name
        self.p_value = p_value
        self.vocabulary = frozenset(str(word) for word in vocabulary)
        if not self.vocabulary:
            raise ValueError("TextOOV needs a non-empty vocabulary")
        self.tokenizer = tokenizer
        self._engine = None

    def oov_rates(self, texts: np.ndarray) -> np.ndarray:
        rates = np.zeros(len(texts), dtype=np.float32)
        for i, text in enumerate(texts):
            tokens = self.tokenizer(str(text))
            if tokens:
                rates[i] = sum(token not in self.vocabulary for token in tokens) / len(tokens)
        return rates[:, None]

    def fit(self, reference: np.ndarray) -> None:
        from alibi_detect.cd import KSDrift

        self._engine = KSDrift(self.oov_rates(reference), p_val=self.p_value)

    def score(self, window: np.ndarray) -> list[DriftResult]:
        require_fitted(self._engine, self.name)
        rates = self.oov_rates(window)
        data = self._engine.predict(rates)["data"]
        return [
            DriftResult(
                detector=self.name,
                feature="",
                p_value=float(np.min(data["p_val"])),
                statistic=float(np.max(data["distance"])),
                threshold=float(data["threshold"]),
                drift=bool(data["is_drift"]),
            )
        ]


class TextExceedance(ConfidenceExceedance):
    """Per-input score: the text's own out-of-vocabulary rate, counted past the reference's 90% quantile
    of it (see ConfidenceExceedance). A share of texts from another domain (slang, hashtags, another
    language) is seen where the whole window's OOV distribution barely moves. An input detector; one
    tokenisation and set lookup per token, as text_oov."""

    def __init__(self, vocabulary: Iterable[str], p_value: float = 0.05, quantile: float = 0.9,
                 tokenizer: Callable[[str], list[str]] = tokenize, name: str = "text_exceedance") -> None:
        super().__init__(p_value, quantile, name)
        self._oov = TextOOV(vocabulary, p_value, tokenizer)

    def scores(self, x: np.ndarray) -> np.ndarray:
        return self._oov.oov_rates(x)[:, 0].astype(np.float64)
