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
