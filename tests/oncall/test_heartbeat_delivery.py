"""The paging path's heartbeat through the real thing: the generated paging rules in Prometheus, the generated
Alertmanager config (its heartbeat route sooner), and the receiver process. Alertmanager reads its token file
at every send, so a wrong token there silences every page; the receiver must then page about it itself."""

from __future__ import annotations

import time

import httpx
import pytest

from mlobs.local.alertmanager import Alertmanager
from mlobs.local.prometheus import Prometheus, scrape_config
from mlobs.local.rules import fast_alertmanager_config
from mlobs.oncall import catalog
from mlobs.stackgen import config
from mlobs.stackgen.paging_alerts import FAILED
from support.processes import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "oncall-token-Lp4kJ9hG2fD6sA1qW8eR"
TIMEOUT_S = 15  # from the receiver's start, the first heartbeat comes in a few seconds


def until(what: str, probe, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds} s: {what}")


def silent(receiver_url: str, status: str) -> list[dict]:
    return httpx.get(f"{receiver_url}/pages", params={"alertname": catalog.SILENT_ALERT, "status": status},
                     timeout=5).json()["notifications"]


def test_a_wrong_token_at_alertmanager_stops_the_heartbeat_and_the_receiver_pages_until_it_is_mended(tmp_path):
    token_file = tmp_path / "oncall-token"
    token_file.write_text(TOKEN)
    env = {"MLOBS_ONCALL__TOKEN": TOKEN, "MLOBS_ONCALL__HEARTBEAT_TIMEOUT_S": str(TIMEOUT_S)}
    with ServiceProcess("oncall", env, tmp_path / "oncall.log") as receiver, \
            Alertmanager(fast_alertmanager_config(f"{receiver.url}{config.ONCALL_PATH}", "1s", str(token_file),
                                                  heartbeat_every="1s"), tmp_path) as am:
        prom_config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(config.ROOT / "alerts" / "paging.rules.yml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am.port}"]}]}]},
            "scrape_configs": [scrape_config("alertmanager", [f"127.0.0.1:{am.port}"])],
        }
        # Prometheus resends firing alerts every resend delay (1m by default): its first send, made before it
        # knew Alertmanager, is dropped.
        with Prometheus(prom_config, tmp_path, flags=("--rules.alert.resend-delay=1s",)) as prometheus:
            state = lambda: httpx.get(f"{receiver.url}/heartbeat", timeout=5).json()  # noqa: E731
            until("a heartbeat at the receiver", lambda: state()["last_heartbeat"])
            assert silent(receiver.url, "firing") == []

            token_file.write_text("a-token-the-receiver-refuses-1234")
            [page] = until("the receiver's own page", lambda: silent(receiver.url, "firing"), TIMEOUT_S + 60)
            assert page["alerts"][0]["labels"] == {"alertname": catalog.SILENT_ALERT, "severity": "page"}
            # Alertmanager counts what it failed to send: the expression of AlertmanagerNotificationsFailing
            # holds on the series the real Alertmanager exports.
            failing = f"sum by (integration) (rate({FAILED}[5m])) > 0"
            [series] = until("failed sends in Prometheus", lambda: prometheus.query(failing))
            assert series["metric"] == {"integration": "webhook"}

            token_file.write_text(TOKEN)
            [resolved] = until("the page resolved", lambda: silent(receiver.url, "resolved"))
            assert resolved["alerts"][0]["startsAt"] == page["alerts"][0]["startsAt"]
            assert state()["silent"] is False
        metrics = httpx.get(f"{receiver.url}/metrics", timeout=5).text
        assert f"{catalog.PAGING_PATH_SILENT.name} 0.0" in metrics
        assert f'{catalog.REJECTED.total}{{reason="unauthorized"}}' in metrics  # the heartbeats refused meanwhile
