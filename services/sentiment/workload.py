"""Traffic for the sentiment service: reviews normally, social-media posts under domain shift."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from mlobs.traffic.workload import Request, check_scenario, mixture_scenarios
from mlobs_services.sentiment import corpus

SCENARIOS = {"normal": "reviews", "domain-shift": "social"}
# A share of the texts are social-media posts (one new client or channel), the rest reviews.
MIXTURES = mixture_scenarios("domain-shift")
SCENARIOS.update(dict.fromkeys(MIXTURES, "reviews"))
POOL_SIZE = 4000
# Traffic texts must not be the training texts, which use the corpus seeds directly.
SEED_OFFSET = 1000
SINGLE_SHARE, BATCH_SHARE = 0.90, 0.08
BATCH_SIZES = (2, 16)
# Just past the service's limits (max_text_chars 5,000, max_batch 64) so they are rejected.
TOO_LONG_CHARS, TOO_LARGE_BATCH = 6000, 100
INVALID_JSON = b'{"text": "the battery lasts all day'


@dataclass
class SentimentWorkload:
    scenario: str
    examples: list[tuple[str, str]]

    def next_request(self, rng: random.Random) -> Request:
        draw = rng.random()
        if draw < SINGLE_SHARE:
            text, label = rng.choice(self.examples)
            return Request("POST", "/predict", json={"text": text}, truth=label, kind="single")
        if draw < SINGLE_SHARE + BATCH_SHARE:
            batch = rng.choices(self.examples, k=rng.randint(*BATCH_SIZES))
            return Request("POST", "/predict", json={"texts": [text for text, _ in batch]}, kind="batch")
        return rng.choice(_BAD_INPUTS)(self, rng)

    def feedback(self, response_json: Any, truth: Any) -> Request | None:
        request_id = response_json.get("request_id") if isinstance(response_json, dict) else None
        if not request_id or not isinstance(truth, str):
            return None
        return Request("POST", "/feedback", json={"request_id": request_id, "label": truth, "index": 0},
                       kind="feedback")

    def _empty(self, rng: random.Random) -> Request:
        return Request("POST", "/predict", json={"text": ""}, kind="bad:empty-text")

    def _too_long(self, rng: random.Random) -> Request:
        text = ""
        while len(text) < TOO_LONG_CHARS:
            text += rng.choice(self.examples)[0] + " "
        return Request("POST", "/predict", json={"text": text[:TOO_LONG_CHARS]}, kind="bad:too-long")

    def _too_large_batch(self, rng: random.Random) -> Request:
        texts = [text for text, _ in rng.choices(self.examples, k=TOO_LARGE_BATCH)]
        return Request("POST", "/predict", json={"texts": texts}, kind="bad:batch-too-large")

    def _wrong_type(self, rng: random.Random) -> Request:
        body = rng.choice([{"text": 42}, {"texts": "not a list"}, {"text": ["a", "list"]}])
        return Request("POST", "/predict", json=body, kind="bad:wrong-type")

    def _invalid_json(self, rng: random.Random) -> Request:
        return Request(
            "POST", "/predict", content=INVALID_JSON, headers={"content-type": "application/json"},
            kind="bad:invalid-json",
        )


_BAD_INPUTS = (
    SentimentWorkload._empty,
    SentimentWorkload._too_long,
    SentimentWorkload._too_large_batch,
    SentimentWorkload._wrong_type,
    SentimentWorkload._invalid_json,
)


def workload(scenario: str = "normal", seed: int = 7) -> SentimentWorkload:
    check_scenario("sentiment", scenario, SCENARIOS)
    examples = corpus.generate(n=POOL_SIZE, seed=seed + SEED_OFFSET, domain=SCENARIOS[scenario])
    if scenario in MIXTURES:
        shifted = round(POOL_SIZE * MIXTURES[scenario])
        social = corpus.generate(n=shifted, seed=seed + SEED_OFFSET, domain="social")
        examples = examples[: POOL_SIZE - shifted] + social
    return SentimentWorkload(scenario=scenario, examples=examples)
