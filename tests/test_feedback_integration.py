"""POST /feedback attacked from outside: a running sentiment service with three clients' keys (carol a
labeller), reached by replays, spoofed identities, races from separate connections and floods."""

from __future__ import annotations

import contextlib
import json

import httpx
import pytest

from mlobs.protect import hash_key
from protect.apps import ALICE_KEY, BOB_KEY, KEYS, auth
from protect.services import metric
from support.processes import ServiceProcess
from support.races import at_once

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CAROL_KEY = "mlobs_test-carol-Lb5Kd8HjWqEr2TyUi9Zx"


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory, artifacts_dir, sentiment_model):
    keys = {**KEYS, "carol": hash_key(CAROL_KEY)}
    env = {"MLOBS_ARTIFACTS_DIR": str(artifacts_dir), "MLOBS_ACCESS_LOG": "false", "MLOBS_AUDIT__ENABLED": "false",
           "MLOBS_PROTECT__AUTH": "required", "MLOBS_PROTECT__API_KEYS": json.dumps(keys),
           "MLOBS_PROTECT__ROLES": json.dumps({"carol": ["labeller"]})}
    with ServiceProcess("sentiment", env, tmp_path_factory.mktemp("feedback") / "service.log") as running:
        yield running


def predict(service, key: str = ALICE_KEY) -> str:
    response = httpx.post(f"{service.url}/predict", json={"text": "a fine product"}, headers=auth(key))
    assert response.status_code == 200
    return response.json()["request_id"]


def feedback(service, request_id, key: str = ALICE_KEY, headers: dict | None = None, **body) -> int:
    return httpx.post(f"{service.url}/feedback", json={"request_id": request_id, "label": "positive", **body},
                      headers={**auth(key), **(headers or {})}).status_code


def scored(service) -> float:
    return sum(metric(service.url, "mlobs_feedback_total", outcome=o) or 0.0 for o in ("correct", "incorrect"))


def rejected(service, reason: str) -> float:
    return metric(service.url, "mlobs_rejected_inputs_total", reason=reason) or 0.0


@pytest.mark.parametrize("variant", [str.upper, lambda r: f" {r}", lambda r: f"{r}\n", lambda r: r[:-1]],
                         ids=["upper-case", "leading-space", "trailing-newline", "truncated"])
def test_a_request_id_changed_in_case_or_whitespace_names_no_prediction(sentiment, variant):
    request_id = predict(sentiment)
    assert feedback(sentiment, variant(request_id)) == 404
    assert feedback(sentiment, request_id) == 200


@pytest.mark.parametrize("label", ["POSITIVE", "positive ", "", {"label": "positive"}, ["positive"], "x" * 100_000])
def test_a_label_outside_the_models_classes_is_refused_and_the_prediction_stays_open(sentiment, label):
    request_id = predict(sentiment)
    assert feedback(sentiment, request_id, label=label) in (413, 422)
    assert feedback(sentiment, request_id) == 200


@pytest.mark.parametrize("headers", [{"x-forwarded-for": "127.0.0.1"}, {"x-client-id": "alice"},
                                     {"x-mlobs-client": "alice", "x-roles": "labeller"},
                                     {"forwarded": "for=127.0.0.1;by=alice"}],
                         ids=["xff", "client-id", "role", "forwarded"])
def test_another_client_cannot_claim_a_prediction_through_a_spoofed_identity_or_role_header(sentiment, headers):
    request_id = predict(sentiment)
    assert feedback(sentiment, request_id, BOB_KEY, headers) == 403
    assert feedback(sentiment, request_id, CAROL_KEY) == 200  # the labeller, configured by its key's client


def race(service, request_id: str, keys: tuple[str, ...]) -> list[int]:
    """Feedback for one prediction from each key at once, each over a connection of its own."""
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(httpx.Client(headers=auth(k))) for k in keys]
        return at_once(lambda client: client.post(f"{service.url}/feedback", json={
            "request_id": request_id, "label": "positive"}).status_code, clients)


def test_two_feedbacks_for_one_prediction_at_once_from_two_connections_score_it_once(sentiment):
    for _ in range(10):
        codes = race(sentiment, predict(sentiment), (ALICE_KEY, CAROL_KEY, ALICE_KEY, CAROL_KEY))
        assert sorted(codes) == [200, 409, 409, 409]


def test_a_replay_flood_leaves_online_accuracy_unchanged_and_counts_every_replay_as_rejected(sentiment):
    request_id = predict(sentiment)
    assert feedback(sentiment, request_id) == 200
    before, duplicates = scored(sentiment), rejected(sentiment, "duplicate_feedback")
    with httpx.Client(headers=auth()) as client:
        for _ in range(150):
            body = {"request_id": request_id, "label": "negative"}
            assert client.post(f"{sentiment.url}/feedback", json=body).status_code == 409
    assert scored(sentiment) == before
    assert rejected(sentiment, "duplicate_feedback") == duplicates + 150
