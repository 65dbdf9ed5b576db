"""The text signal: each text's out-of-vocabulary rate against the training vocabulary, compared with
held-out reference texts by a two-sample KS test (alibi KSDrift on one feature)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np

from mlobs.drift.detectors.base import DriftResult, require_fitted

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
