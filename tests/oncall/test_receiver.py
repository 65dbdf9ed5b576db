from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from mlobs.oncall import catalog
from mlobs.oncall.receiver import create_app
from mlobs.settings import Settings
from oncall.payloads import alert, message


@pytest.fixture
def registry():
    return CollectorRegistry()


@pytest.fixture
def client(tmp_path, registry):
    settings = Settings(_env_file=None, oncall={"journal_path": tmp_path / "pages.jsonl", "keep": 3})
    with TestClient(create_app(settings, registry)) as c:
        yield c


def count(registry, alertname, severity, status):
    return registry.get_sample_value(catalog.NOTIFICATIONS.total,
                                     {"alertname": alertname, "severity": severity, "status": status})


def test_a_firing_page_is_kept_listed_and_counted(client, registry):
    assert client.post("/alerts?severity=page", json=message()).status_code == 200
    [kept] = client.get("/pages").json()["notifications"]
    assert kept["alerts"][0]["labels"]["alertname"] == "InputDriftDetected"
    assert kept["groupKey"].startswith("{}/") and kept["route_severity"] == "page"
    assert kept["received_at"] > 0
    assert count(registry, "InputDriftDetected", "page", "firing") == 1


def test_every_alert_of_a_group_counts_once_with_its_own_status(client, registry):
    body = message(alert("A"), alert("A", status="resolved"), alert("B", severity="ticket"))
    client.post("/alerts", json=body)
    assert count(registry, "A", "page", "firing") == 1
    assert count(registry, "A", "page", "resolved") == 1
    assert count(registry, "B", "ticket", "firing") == 1


def test_an_alert_without_a_severity_label_takes_the_routes_or_none(client, registry):
    client.post("/alerts?severity=ticket", json=message(alert("X", severity=None)))
    client.post("/alerts", json=message(alert("Y", severity=None)))
    assert count(registry, "X", "ticket", "firing") == 1
    assert count(registry, "Y", catalog.NO_SEVERITY, "firing") == 1


def test_pages_filter_by_alert_status_severity_and_time(client):
    client.post("/alerts", json=message(alert("A")))
    client.post("/alerts", json=message(alert("B", status="resolved", severity="ticket"), status="resolved"))

    def get(**q):
        return [n["alerts"][0]["labels"]["alertname"] for n in client.get("/pages", params=q).json()["notifications"]]
    assert get() == ["A", "B"]
    assert get(alertname="B") == ["B"]
    assert get(status="firing") == ["A"]
    assert get(severity="ticket") == ["B"]
    assert get(since=4102444800) == []  # 2100-01-01


def test_only_the_last_notifications_are_kept_in_memory_but_all_reach_the_journal(client, tmp_path):
    for i in range(5):
        client.post("/alerts", json=message(alert(f"A{i}")))
    names = [n["alerts"][0]["labels"]["alertname"] for n in client.get("/pages").json()["notifications"]]
    assert names == ["A2", "A3", "A4"]
    lines = (tmp_path / "pages.jsonl").read_text().splitlines()
    assert [json.loads(line)["alerts"][0]["labels"]["alertname"] for line in lines] == [f"A{i}" for i in range(5)]


def test_fields_a_newer_alertmanager_adds_survive_to_pages(client):
    body = message()
    body["futureField"] = {"x": 1}
    body["alerts"][0]["futureAlertField"] = "y"
    client.post("/alerts", json=body)
    [kept] = client.get("/pages").json()["notifications"]
    assert kept["futureField"] == {"x": 1} and kept["alerts"][0]["futureAlertField"] == "y"


@pytest.mark.parametrize("body, reason", [
    (b"not json", "not_json"),
    (json.dumps({**message(), "version": "3"}).encode(), "not_webhook_v4"),
    (json.dumps({k: v for k, v in message().items() if k != "alerts"}).encode(), "not_webhook_v4"),
    (json.dumps(message(alert(status="pending"))).encode(), "not_webhook_v4"),
])
def test_a_body_that_is_not_alertmanagers_v4_payload_is_refused_counted_and_not_kept(client, registry, body, reason):
    response = client.post("/alerts", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"] == reason
    assert client.get("/pages").json()["notifications"] == []
    assert registry.get_sample_value(catalog.REJECTED.total, {"reason": reason}) == 1


def test_an_oversized_body_is_refused_with_413(tmp_path, registry):
    settings = Settings(_env_file=None, oncall={"max_body_bytes": 100})
    with TestClient(create_app(settings, registry)) as c:
        assert c.post("/alerts", json=message()).status_code == 413


def test_alert_names_beyond_the_bound_are_counted_as_other(client, registry, monkeypatch):
    monkeypatch.setattr(catalog, "MAX_ALERTNAMES", 2)
    client.post("/alerts", json=message(alert("A"), alert("B"), alert("C"), alert("A")))
    assert count(registry, "A", "page", "firing") == 2
    assert count(registry, catalog.OTHER, "page", "firing") == 1


def test_metrics_expose_the_catalogued_counter(client):
    client.post("/alerts", json=message())
    text = client.get("/metrics").text
    labels = 'alertname="InputDriftDetected",severity="page",status="firing"'
    assert f"mlobs_oncall_notifications_total{{{labels}}} 1.0" in text


class FailingOnce:
    """A journal file whose next write fails as a full disk does, then works."""

    def __init__(self, real):
        self.real, self.failed = real, False

    def write(self, data):
        if not self.failed:
            self.failed = True
            self.real.write(bytes(data[:10]))  # part of the line reached the disk before it filled
            raise OSError(28, "No space left on device")
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_journal_write_that_fails_answers_500_and_the_retry_is_journaled_once_and_listed_once(client, tmp_path):
    client.post("/alerts", json=message(alert("Before")))
    store = client.app.state.store
    store._journal = FailingOnce(store._journal)
    page = message(alert("DiskFull"))
    first = client.post("/alerts?severity=page", json=page)
    assert first.status_code == 500 and first.json()["error"] == "journal_failed"
    assert [n["alerts"][0]["labels"]["alertname"] for n in client.get("/pages").json()["notifications"]] == [
        "Before", "DiskFull"]  # listed at once: the journal is the copy, the page is what someone must see
    assert client.post("/alerts?severity=page", json=page).status_code == 200  # Alertmanager's retry
    assert len(client.get("/pages", params={"alertname": "DiskFull"}).json()["notifications"]) == 1
    lines = (tmp_path / "pages.jsonl").read_text().splitlines()
    assert [json.loads(line)["alerts"][0]["labels"]["alertname"] for line in lines] == ["Before", "DiskFull"]
    metrics = client.get("/metrics").text
    assert f"{catalog.JOURNAL_FAILURES.total} 1.0" in metrics
    assert f'{catalog.NOTIFICATIONS.total}{{alertname="DiskFull",severity="page",status="firing"}} 1.0' in metrics
