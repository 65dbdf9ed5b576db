"""A real Alertmanager (the pinned OS package) delivers to the real receiver process, and the receiver
accepts exactly what it sends."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import httpx
import pytest

from mlobs.local.alertmanager import Alertmanager
from mlobs.local.rules import fast_alertmanager_config
from mlobs.oncall import catalog
from mlobs.stackgen import config
from support.processes import ServiceProcess

pytestmark = pytest.mark.integration


def test_an_alert_posted_to_alertmanager_arrives_at_the_receiver_as_a_counted_page(tmp_path):
    with ServiceProcess("oncall", {"MLOBS_ONCALL__JOURNAL_PATH": str(tmp_path / "pages.jsonl")},
                        tmp_path / "oncall.log") as receiver, \
            Alertmanager(fast_alertmanager_config(f"{receiver.url}{config.ONCALL_PATH}"), tmp_path) as am:
        now = datetime.now(timezone.utc).isoformat()
        httpx.post(f"{am.url}/api/v2/alerts", timeout=5, json=[{
            "labels": {"alertname": "InputDriftDetected", "severity": "page", "model": "vision"},
            "annotations": {"summary": "drift"}, "startsAt": now}]).raise_for_status()
        deadline, kept = time.monotonic() + 30, []
        while not kept and time.monotonic() < deadline:
            answer = httpx.get(f"{receiver.url}/pages", params={"alertname": "InputDriftDetected"})
            kept = answer.json()["notifications"]
            time.sleep(0.2)
        assert kept, (tmp_path / "oncall.log").read_text()[-2000:]
        note = kept[0]
        assert note["version"] == "4" and note["receiver"] == "oncall-page" and note["route_severity"] == "page"
        assert note["alerts"][0]["fingerprint"] and note["alerts"][0]["startsAt"].startswith(now[:16])
        metrics = httpx.get(f"{receiver.url}/metrics").text
        assert (f'{catalog.NOTIFICATIONS.total}{{alertname="InputDriftDetected",severity="page",status="firing"}} 1.0'
                in metrics)
    assert "InputDriftDetected" in (tmp_path / "pages.jsonl").read_text()
    assert '"message":"on-call notification"' in (tmp_path / "oncall.log").read_text()


def test_a_full_disk_under_the_journal_lists_the_page_once_however_often_alertmanager_retries(tmp_path):
    # /dev/full answers every write with ENOSPC, as a full disk does.
    with ServiceProcess("oncall", {"MLOBS_ONCALL__JOURNAL_PATH": "/dev/full"}, tmp_path / "oncall.log") as receiver, \
            Alertmanager(fast_alertmanager_config(f"{receiver.url}{config.ONCALL_PATH}"), tmp_path) as am:
        now = datetime.now(timezone.utc).isoformat()
        httpx.post(f"{am.url}/api/v2/alerts", timeout=5, json=[{
            "labels": {"alertname": "InputDriftDetected", "severity": "page"}, "startsAt": now}]).raise_for_status()
        deadline, failures = time.monotonic() + 60, 0.0
        while failures < 3 and time.monotonic() < deadline:  # Alertmanager retries a 500
            time.sleep(0.5)
            metrics = httpx.get(f"{receiver.url}/metrics").text
            failures = float(next(line.split()[-1] for line in metrics.splitlines()
                                  if line.startswith(catalog.JOURNAL_FAILURES.total)))
        assert failures >= 3, (tmp_path / "oncall.log").read_text()[-2000:]
        assert len(pages(receiver.url, "InputDriftDetected")) == 1
        assert (f'{catalog.NOTIFICATIONS.total}{{alertname="InputDriftDetected",severity="page",status="firing"}} 1.0'
                in metrics)
    assert "kept but not journaled" in (tmp_path / "oncall.log").read_text()


def pages(receiver_url: str, alertname: str) -> list[dict]:
    return httpx.get(f"{receiver_url}/pages", params={"alertname": alertname}).json()["notifications"]


def test_a_receiver_with_a_token_takes_alertmanagers_pages_and_refuses_a_forged_one(tmp_path):
    token = "oncall-token-Vb3nQ8rT1yU6iO0pA5sD"
    (tmp_path / "token").write_text(token)
    with ServiceProcess("oncall", {"MLOBS_ONCALL__TOKEN": token}, tmp_path / "oncall.log") as receiver:
        am_config = fast_alertmanager_config(f"{receiver.url}{config.ONCALL_PATH}")
        for route in am_config["receivers"]:
            for hook in route["webhook_configs"]:
                hook["http_config"] = {"authorization": {"type": "Bearer", "credentials_file": str(tmp_path / "token")}}
        forged = {"version": "4", "groupKey": "{}", "status": "firing", "receiver": "oncall-page", "alerts": [
            {"status": "firing", "labels": {"alertname": "Forged"}, "startsAt": "2026-01-01T00:00:00Z"}]}
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": token}):
            assert httpx.post(f"{receiver.url}/alerts", json=forged, headers=headers).status_code == 401
        with Alertmanager(am_config, tmp_path) as am:
            now = datetime.now(timezone.utc).isoformat()
            httpx.post(f"{am.url}/api/v2/alerts", timeout=5, json=[{
                "labels": {"alertname": "InputDriftDetected", "severity": "page"}, "startsAt": now}]).raise_for_status()
            deadline, kept = time.monotonic() + 30, []
            while not kept and time.monotonic() < deadline:
                kept = pages(receiver.url, "InputDriftDetected")
                time.sleep(0.2)
        assert kept, (tmp_path / "oncall.log").read_text()[-2000:]
        assert not pages(receiver.url, "Forged")
        metrics = httpx.get(f"{receiver.url}/metrics").text
        assert f'{catalog.REJECTED.total}{{reason="unauthorized"}} 3.0' in metrics


@pytest.mark.slow
def test_a_group_of_thousands_of_alerts_still_reaches_the_receiver_as_one_truncated_page(tmp_path):
    # Alertmanager does not retry a 4xx: a notification over the receiver's body limit would be a lost page.
    with ServiceProcess("oncall", {}, tmp_path / "oncall.log") as receiver, \
            Alertmanager(fast_alertmanager_config(f"{receiver.url}{config.ONCALL_PATH}"), tmp_path) as am:
        now = datetime.now(timezone.utc).isoformat()
        alerts = [{"labels": {"alertname": "ServiceDown", "severity": "page", "instance": f"10.0.{i // 250}.{i % 250}"},
                   "annotations": {"description": "d" * 2_000}, "startsAt": now} for i in range(3_000)]
        httpx.post(f"{am.url}/api/v2/alerts", timeout=30, json=alerts).raise_for_status()
        deadline, kept = time.monotonic() + 30, []
        while not kept and time.monotonic() < deadline:
            kept = pages(receiver.url, "ServiceDown")
            time.sleep(0.2)
        rejected = httpx.get(f"{receiver.url}/metrics").text
    assert kept, rejected[-1500:]
    assert kept[0]["truncatedAlerts"] > 0
    assert len(kept[0]["alerts"]) + kept[0]["truncatedAlerts"] == 3_000


def test_label_values_with_newlines_and_markup_pass_through_alertmanager_verbatim_into_one_page(tmp_path):
    hostile = '</pre><script>alert(1)</script>\nalertname="Forged"\r\n{{ .Status }}'
    with ServiceProcess("oncall", {"MLOBS_ONCALL__JOURNAL_PATH": str(tmp_path / "pages.jsonl")},
                        tmp_path / "oncall.log") as receiver, \
            Alertmanager(fast_alertmanager_config(f"{receiver.url}{config.ONCALL_PATH}"), tmp_path) as am:
        now = datetime.now(timezone.utc).isoformat()
        httpx.post(f"{am.url}/api/v2/alerts", timeout=5, json=[{
            "labels": {"alertname": "InputDriftDetected", "severity": "page", "model": hostile},
            "annotations": {"summary": hostile}, "startsAt": now}]).raise_for_status()
        deadline, kept = time.monotonic() + 30, []
        while not kept and time.monotonic() < deadline:
            kept = pages(receiver.url, "InputDriftDetected")
            time.sleep(0.2)
        assert kept, (tmp_path / "oncall.log").read_text()[-2000:]
        assert kept[0]["alerts"][0]["labels"]["model"] == hostile
        assert kept[0]["alerts"][0]["annotations"]["summary"] == hostile
        assert not pages(receiver.url, "Forged")
    assert len((tmp_path / "pages.jsonl").read_bytes().splitlines()) == 1
