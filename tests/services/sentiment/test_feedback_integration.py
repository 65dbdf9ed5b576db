"""Feedback against the sentiment service as a process, with API keys, as clients would send it."""

from __future__ import annotations

import json

import httpx
import pytest

from mlobs.protect import hash_key
from support.processes import ServiceProcess

pytestmark = pytest.mark.integration

KEYS = {"alice": "mlobs_it-alice-4tq9Vb2Lx8", "bob": "mlobs_it-bob-Pz3Kd7Wm1R", "labels": "mlobs_it-labels-9sQ2hF6y"}
TEXT = {"text": "the food was great and the staff lovely"}


def as_client(url: str, name: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=10, headers={"authorization": f"Bearer {KEYS[name]}"})


def scrape(url: str, series: str, *having: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(series + "{") and all(h in line for h in having))


@pytest.fixture(scope="module")
def service(tmp_path_factory, artifacts_dir, sentiment_model):
    workdir = tmp_path_factory.mktemp("feedback-it")
    env = {
        "MLOBS_ARTIFACTS_DIR": str(artifacts_dir),
        "MLOBS_PROTECT__AUTH": "required",
        "MLOBS_PROTECT__API_KEYS": json.dumps({name: hash_key(key) for name, key in KEYS.items()}),
        "MLOBS_PROTECT__ROLES": json.dumps({"labels": ["labeller"]}),
        "MLOBS_FEEDBACK_MEMORY_BYTES": "40000",
    }
    with ServiceProcess("sentiment", env, workdir / "service.log") as process:
        yield process.url


def predict(client: httpx.Client) -> str:
    answer = client.post("/predict", json=TEXT)
    assert answer.status_code == 200, answer.text
    return answer.json()["request_id"]


def test_replayed_feedback_is_refused_with_409_and_online_accuracy_counts_it_once(service):
    with as_client(service, "alice") as alice:
        request_id = predict(alice)
        before = scrape(service, "mlobs_feedback_total")
        answers = [alice.post("/feedback", json={"request_id": request_id, "label": "positive"}) for _ in range(20)]
    assert [a.status_code for a in answers] == [200] + [409] * 19
    assert scrape(service, "mlobs_feedback_total") - before == 1
    assert scrape(service, "mlobs_rejected_inputs_total", 'reason="duplicate_feedback"') == 19


def test_feedback_on_another_clients_prediction_is_refused_with_403(service):
    with as_client(service, "alice") as alice, as_client(service, "bob") as bob:
        request_id = predict(alice)
        refused = bob.post("/feedback", json={"request_id": request_id, "label": "negative"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "feedback_forbidden"
        assert alice.post("/feedback", json={"request_id": request_id, "label": "positive"}).status_code == 200


def test_a_labeller_may_score_any_clients_prediction_once(service):
    with as_client(service, "bob") as bob, as_client(service, "labels") as labels:
        request_id = predict(bob)
        assert labels.post("/feedback", json={"request_id": request_id, "label": "positive"}).status_code == 200
        assert bob.post("/feedback", json={"request_id": request_id, "label": "positive"}).status_code == 409


def test_feedback_without_a_key_is_refused_before_it_is_scored(service):
    answer = httpx.post(f"{service}/feedback", json={"request_id": "0" * 32, "label": "positive"}, timeout=10)
    assert answer.status_code == 401


def test_a_prediction_pushed_out_of_the_byte_bounded_memory_gets_a_404(service):
    with as_client(service, "alice") as alice:
        oldest = predict(alice)
        for _ in range(3):  # 40 kB hold about a hundred predictions; batches push the oldest out
            alice.post("/predict", json={"texts": ["fine"] * 60})
        for _ in range(150):
            predict(alice)
        gone = alice.post("/feedback", json={"request_id": oldest, "label": "positive"})
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "unknown_request"
        assert alice.post("/feedback", json={"request_id": predict(alice), "label": "positive"}).status_code == 200
