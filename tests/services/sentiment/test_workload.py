from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from mlobs.settings import Settings
from mlobs.traffic.workload import UnknownScenario, Workload
from mlobs_services.sentiment import corpus
from mlobs_services.sentiment.workload import SEED_OFFSET, workload


@pytest.fixture(scope="module")
def normal():
    return workload("normal", seed=7)


@pytest.fixture(scope="module")
def draws(normal):
    rng = random.Random(1)
    return [normal.next_request(rng) for _ in range(5000)]


def test_the_workload_meets_the_traffic_contract(normal):
    assert isinstance(normal, Workload)
    assert normal.scenario == "normal"


def test_most_requests_are_single_texts_with_some_batches_and_a_few_bad_inputs(draws):
    kinds = Counter("bad" if r.kind.startswith("bad:") else r.kind for r in draws)
    assert 0.87 < kinds["single"] / len(draws) < 0.93
    assert 0.06 < kinds["batch"] / len(draws) < 0.10
    assert 0.01 < kinds["bad"] / len(draws) < 0.03
    assert {r.kind for r in draws if r.kind.startswith("bad:")} == {
        "bad:empty-text", "bad:too-long", "bad:batch-too-large", "bad:wrong-type", "bad:invalid-json"
    }


def test_single_predictions_carry_their_label_as_truth_and_batches_have_2_to_16_texts(draws):
    singles = [r for r in draws if r.kind == "single"]
    batches = [r for r in draws if r.kind == "batch"]
    assert all(isinstance(r.json["text"], str) and r.json["text"] and r.truth in corpus.LABELS for r in singles)
    assert {len(r.json["texts"]) for r in batches} <= set(range(2, 17))
    assert min(len(r.json["texts"]) for r in batches) == 2 and max(len(r.json["texts"]) for r in batches) == 16


def test_bad_inputs_break_the_service_limits(draws):
    settings = Settings()
    bad = {r.kind: r for r in draws if r.kind.startswith("bad:")}
    assert bad["bad:empty-text"].json == {"text": ""}
    assert len(bad["bad:too-long"].json["text"]) > settings.max_text_chars
    assert len(bad["bad:batch-too-large"].json["texts"]) > settings.max_batch
    invalid = bad["bad:invalid-json"]
    assert invalid.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        json.loads(invalid.content)
    wrong = bad["bad:wrong-type"].json
    assert not isinstance(wrong.get("text", ""), str) or not isinstance(wrong.get("texts", []), list)


def test_traffic_texts_are_not_the_training_set(normal):
    assert normal.examples == corpus.generate(n=4000, seed=7 + SEED_OFFSET, domain="reviews")
    assert normal.examples != corpus.generate(n=4000, seed=7, domain="reviews")


def test_the_domain_shift_scenario_sends_social_posts():
    shifted = workload("domain-shift", seed=7)
    assert shifted.scenario == "domain-shift"
    assert shifted.examples == corpus.generate(n=4000, seed=7 + SEED_OFFSET, domain="social")


def test_an_unknown_scenario_names_the_valid_ones():
    with pytest.raises(UnknownScenario, match="choose one of: domain-shift, domain-shift-10%, domain-shift-20%, "
                       "domain-shift-5%, normal"):
        workload("rotation", seed=7)


def test_the_same_seed_gives_the_same_requests(normal):
    first, second = random.Random(5), random.Random(5)
    assert [normal.next_request(first) for _ in range(200)] == [normal.next_request(second) for _ in range(200)]


def test_feedback_reports_the_truth_for_the_response_request_id(normal):
    request = normal.feedback({"request_id": "abc", "label": "positive", "probability": 0.9}, "negative")
    assert (request.method, request.path, request.kind) == ("POST", "/feedback", "feedback")
    assert request.json == {"request_id": "abc", "label": "negative", "index": 0}


@pytest.mark.parametrize("response, truth",
                         [({"label": "positive"}, "negative"), ({"request_id": "abc"}, None), ([], "x")])
def test_no_feedback_without_a_request_id_or_a_truth(normal, response, truth):
    assert normal.feedback(response, truth) is None
