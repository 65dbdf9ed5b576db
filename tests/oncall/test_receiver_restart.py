"""The receiver process killed mid-incident (an OOM kill, an eviction) and started again on its journal."""

from __future__ import annotations

import httpx
import orjson
import pytest

from mlobs.local.ports import free_port
from oncall.payloads import alert, message
from support.processes import ServiceProcess

pytestmark = pytest.mark.integration


def listed(url: str) -> list[dict]:
    return httpx.get(f"{url}/pages", params={"alertname": "EstimatedAccuracyDrop"}, timeout=5).json()["notifications"]


def test_a_page_kept_before_the_receiver_is_killed_is_listed_after_it_restarts_beside_its_repeat(tmp_path):
    journal = tmp_path / "pages.jsonl"
    env, port, log = {"MLOBS_ONCALL__JOURNAL_PATH": str(journal)}, free_port(), tmp_path / "oncall.log"
    page = message(alert("EstimatedAccuracyDrop", model="vision"))
    with ServiceProcess("oncall", env, log, port) as receiver:
        httpx.post(f"{receiver.url}/alerts", params={"severity": "page"}, json=page, timeout=5).raise_for_status()
        receiver.process.kill()  # no shutdown at all
        receiver.process.wait(10)
    with ServiceProcess("oncall", env, log, port) as receiver:
        after_restart = listed(receiver.url)
        # Alertmanager's repeat of the page still firing (repeat_interval), after the restart.
        httpx.post(f"{receiver.url}/alerts", params={"severity": "page"}, json=page, timeout=5).raise_for_status()
        with_repeat = listed(receiver.url)
    assert [n["alerts"][0]["labels"]["model"] for n in after_restart] == ["vision"], receiver.log_tail()
    assert after_restart[0]["route_severity"] == "page"
    assert len(with_repeat) == 2 and with_repeat[0] == after_restart[0]
    assert len(journal.read_bytes().splitlines()) == 2
    assert [orjson.loads(line) for line in journal.read_bytes().splitlines()] == with_repeat
