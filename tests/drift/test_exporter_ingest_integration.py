"""The drift exporter's POST /ingest attacked from outside: a running `mlobs serve drift-exporter`, reached by a
client that is not one of the services (no token, invented names, oversized bodies) and by a real shipper."""

from __future__ import annotations

import socket
import time

import httpx
import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry

from mlobs.drift import catalog
from mlobs.drift.reference import save_reference
from mlobs.drift.shipper import DriftShipper
from mlobs.settings import Settings
from protect.raw import status_of, stream_until_answered
from support.processes import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "drift-ingest-Jw4qP9sX2vB7nL0kR5tY"
MAX_BYTES = 100_000
MAX_STREAMS = 8
SHIPPED = catalog.DRIFT_SAMPLES_SHIPPED.total


@pytest.fixture(scope="module")
def exporter(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("exporter-ingest")
    probs = np.random.default_rng(0).dirichlet([4.0, 2.0, 1.0], 400)
    save_reference(workdir / "artifacts" / "sentiment" / "v1", probs=probs)  # three classes
    env = {"MLOBS_ARTIFACTS_DIR": str(workdir / "artifacts"), "MLOBS_DRIFT__INGEST_TOKEN": TOKEN,
           "MLOBS_DRIFT__MAX_INGEST_BYTES": str(MAX_BYTES), "MLOBS_DRIFT__MAX_STREAMS": str(MAX_STREAMS)}
    with ServiceProcess("drift-exporter", env, workdir / "exporter.log") as running:
        yield running


def batch(service: str = "sentiment", model: str = "sentiment", version: str = "v1", n: int = 1) -> bytes:
    sample = {"probs": [0.2, 0.3, 0.5], "text": "fine", "segment": "alice"}
    return orjson.dumps({"service": service, "model": model, "model_version": version, "samples": [sample] * n})


def post(url: str, body: bytes, token: str | None = TOKEN) -> httpx.Response:
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
    return httpx.post(f"{url}/ingest", content=body, headers=headers, timeout=10)


def series(url: str) -> list[str]:
    return [line for line in httpx.get(f"{url}/metrics").text.splitlines() if line and not line.startswith("#")]


def refused(url: str, reason: str) -> float:
    prefix = f'mlobs_drift_ingest_refused_total{{reason="{reason}"}} '
    return sum(float(line[len(prefix):]) for line in series(url) if line.startswith(prefix))


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", TOKEN.upper()])
def test_a_batch_without_the_ingest_token_is_refused_and_counted_not_ingested(exporter, token):
    before = refused(exporter.url, "unauthorized")
    response = post(exporter.url, batch(service="intruder"), token=token)
    assert response.status_code == 401
    assert refused(exporter.url, "unauthorized") == before + 1
    assert not any('service="intruder"' in line for line in series(exporter.url))


def test_a_batch_with_the_ingest_token_is_accepted(exporter):
    response = post(exporter.url, batch(n=3))
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 3, "received": 3}


def test_a_shipper_given_the_token_by_its_settings_delivers_its_samples(exporter):
    settings = Settings(drift={"exporter_url": exporter.url, "ingest_token": TOKEN, "flush_interval_seconds": 0.1},
                        _env_file=None)
    registry = CollectorRegistry()
    shipper = DriftShipper.from_settings(settings.drift, service="shipped", model="sentiment", model_version="v1",
                                         registry=registry)
    try:
        for _ in range(5):
            shipper.offer({"probs": [0.1, 0.2, 0.7], "segment": "alice"})
        deadline = time.monotonic() + 5
        labels = {"service": "shipped", "model": "sentiment", "model_version": "v1"}
        while time.monotonic() < deadline and not registry.get_sample_value(SHIPPED, labels):
            time.sleep(0.05)
    finally:
        shipper.close()
    assert registry.get_sample_value(SHIPPED, labels) == 5
    assert any(line.startswith("mlobs_drift_samples_received_total") and 'service="shipped"' in line
               for line in series(exporter.url))


INVALID_SAMPLES = [
    {"probs": [5.0, -3.0, 1e308]},  # not probabilities: KS would see drift, CBPE an accuracy of 1
    {"probs": [None, 0.5, 0.5]},  # a NaN the shipper serialised as null
    {"probs": [0.9, 0.9, 0.9]},  # does not sum to 1
    {"probs": [True, False, False]},
    {"probs": "0.2,0.3,0.5"},
    {"probs": [[0.2, 0.3, 0.5]]},
    {"probs": [1.0]},
    {"probs": [0.5, 0.5]},  # two classes where the version's reference has three
    {"probs": [0.2, 0.3, 0.5], "text": ["not", "a", "string"]},
    {"probs": [0.2, 0.3, 0.5], "features": [1, 2]},
    {"probs": [0.2, 0.3, 0.5], "segment": {"client": "alice"}},
]


def test_samples_that_are_not_what_a_model_ships_are_dropped_and_counted_and_the_rest_ingested(exporter):
    valid = [{"probs": [0.2, 0.3, 0.5], "text": "fine", "segment": "alice"}] * 10
    body = orjson.dumps({"service": "sentiment", "model": "sentiment", "model_version": "v1",
                         "samples": valid + INVALID_SAMPLES})
    response = post(exporter.url, body)
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 10, "received": 10 + len(INVALID_SAMPLES)}
    dropped = [line for line in series(exporter.url) if line.startswith("mlobs_drift_samples_dropped_total{")
               and 'reason="invalid_sample"' in line and 'service="sentiment"' in line]
    assert dropped and float(dropped[0].rsplit(" ", 1)[1]) == len(INVALID_SAMPLES)


def test_a_thousand_invented_names_never_grow_the_exporters_series_or_health_answer_past_a_bound(exporter):
    for i in range(MAX_STREAMS + 2):  # fill every stream the exporter tracks
        post(exporter.url, batch(service=f"filler-{i}"))
    before_series, before_health = len(series(exporter.url)), len(httpx.get(f"{exporter.url}/healthz").content)
    statuses = set()
    with httpx.Client(headers={"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}) as client:
        for i in range(1000):
            body = batch(service=f"svc-{i}", model=f"model-{i % 7}", version=f"v{i}")
            statuses.add(client.post(f"{exporter.url}/ingest", content=body).status_code)
    assert statuses == {429}
    assert refused(exporter.url, "too_many_streams") >= 1000
    assert len(series(exporter.url)) == before_series
    assert len(httpx.get(f"{exporter.url}/healthz").content) == before_health


def test_a_stream_already_tracked_keeps_being_accepted_when_the_bound_is_reached(exporter):
    for i in range(MAX_STREAMS + 2):
        post(exporter.url, batch(service=f"filler-{i}"))
    assert post(exporter.url, batch(n=2)).status_code == 202


def test_a_body_declared_over_the_limit_is_refused_before_it_is_sent(exporter):
    head = (f"POST /ingest HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\n"
            f"content-length: {4_000_000_000}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=4) as sock:
        sock.sendall(head)
        response = sock.recv(65536)  # the answer comes with no byte of the body sent
    assert status_of(response) == 413, response[:200]


def test_a_chunked_body_over_the_limit_is_cut_off_with_413_while_it_streams(exporter):
    head = (f"POST /ingest HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\n"
            "transfer-encoding: chunked\r\n\r\n").encode()
    sent, response = stream_until_answered(exporter.port, head, 100 * MAX_BYTES)
    assert status_of(response) == 413, response[:200]
    assert sent < 10 * MAX_BYTES
