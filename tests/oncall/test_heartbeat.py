"""The receiver's end of the paging path's dead man's switch: heartbeats counted and not kept, and a page of
its own, once, when they stop; resolved when they come back."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from mlobs.oncall import catalog
from mlobs.oncall.receiver import create_app
from mlobs.settings import Settings
from oncall.payloads import alert, message

TOKEN = "oncall-token-Zq8wX3cV5bN1mK7jH2gF"
AUTH = {"authorization": f"Bearer {TOKEN}"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def beat(status: str = "firing") -> dict:
    return message(alert("PagingHeartbeat", status=status, severity="heartbeat"), status=status,
                   receiver="oncall-heartbeat")


@pytest.fixture
def receiver(tmp_path):
    registry = CollectorRegistry()
    settings = Settings(_env_file=None, oncall={"journal_path": tmp_path / "pages.jsonl", "token": TOKEN,
                                                "heartbeat_timeout_s": 300})
    app = create_app(settings, registry)
    clock = Clock()
    watch = app.state.heartbeat
    watch._clock, watch.started_at = clock, clock.now
    with TestClient(app) as client:
        yield client, watch, clock, registry


def silent_pages(client, status: str | None = None) -> list[dict]:
    params = {"alertname": catalog.SILENT_ALERT, **({"status": status} if status else {})}
    return client.get("/pages", params=params).json()["notifications"]


def test_a_heartbeat_is_counted_and_dated_but_never_listed_as_a_page(receiver):
    client, _, clock, registry = receiver
    assert client.post("/heartbeat", json=beat(), headers=AUTH).json() == {"heartbeat": True}
    assert client.get("/pages").json()["notifications"] == []
    assert registry.get_sample_value(catalog.HEARTBEATS.total) == 1
    assert client.get("/heartbeat").json()["last_heartbeat"] == clock.now


def test_a_heartbeat_without_the_token_or_not_in_alertmanagers_shape_does_not_count(receiver):
    client, watch, _, registry = receiver
    assert client.post("/heartbeat", json=beat()).status_code == 401
    assert client.post("/heartbeat", json=beat(), headers={"authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/heartbeat", json={"alive": True}, headers=AUTH).status_code == 400
    assert client.post("/heartbeat", json=beat("resolved"), headers=AUTH).json() == {"heartbeat": False}
    assert watch.last is None and registry.get_sample_value(catalog.HEARTBEATS.total) == 0


def test_no_heartbeat_since_start_pages_once_and_the_page_reaches_pages_journal_and_counter(receiver, tmp_path):
    client, watch, clock, registry = receiver
    clock.now += 299
    watch.check()
    assert silent_pages(client) == []
    clock.now += 2
    watch.check()
    clock.now += 60
    watch.check()  # still silent: no second page
    [page] = silent_pages(client, "firing")
    assert page["route_severity"] == "page" and page["alerts"][0]["labels"]["severity"] == "page"
    assert "since the receiver started" in page["alerts"][0]["annotations"]["description"]
    assert page["alerts"][0]["annotations"]["runbook_url"].endswith(catalog.SILENT_RUNBOOK)
    assert registry.get_sample_value(catalog.PAGING_PATH_SILENT.name) == 1
    assert registry.get_sample_value(catalog.NOTIFICATIONS.total, {
        "alertname": catalog.SILENT_ALERT, "severity": "page", "status": "firing"}) == 1
    journal = [json.loads(line) for line in (tmp_path / "pages.jsonl").read_text().splitlines()]
    assert [n["alerts"][0]["labels"]["alertname"] for n in journal] == [catalog.SILENT_ALERT]


def test_heartbeats_keep_it_quiet_and_the_next_one_after_a_silence_resolves_the_page(receiver):
    client, watch, clock, registry = receiver
    for _ in range(20):  # a beat a minute for 20 minutes
        clock.now += 60
        client.post("/heartbeat", json=beat(), headers=AUTH)
        watch.check()
    assert silent_pages(client) == []
    clock.now += 301
    watch.check()
    assert client.get("/heartbeat").json()["silent"] is True
    clock.now += 30
    client.post("/heartbeat", json=beat(), headers=AUTH)
    firing, resolved = silent_pages(client)
    assert (firing["status"], resolved["status"]) == ("firing", "resolved")
    assert resolved["alerts"][0]["startsAt"] == firing["alerts"][0]["startsAt"]
    # Both name the last heartbeat before the silence, not the one that ended it.
    said = {n["alerts"][0]["annotations"]["description"].split(" (")[0] for n in (firing, resolved)}
    assert len(said) == 1 and "since the receiver started" not in said.pop()
    assert registry.get_sample_value(catalog.PAGING_PATH_SILENT.name) == 0
    assert client.get("/heartbeat").json()["silent"] is False


def test_a_timeout_of_zero_turns_the_watch_off(tmp_path):
    settings = Settings(_env_file=None, oncall={"heartbeat_timeout_s": 0})
    app = create_app(settings, CollectorRegistry())
    watch = app.state.heartbeat
    watch.started_at -= 10 ** 6
    watch.check()
    with TestClient(app) as client:
        assert client.get("/pages").json()["notifications"] == []
