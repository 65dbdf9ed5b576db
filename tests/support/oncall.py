"""The on-call path, for real: vision service -> drift exporter -> Prometheus (drift rules) ->
Alertmanager -> the on-call receiver (`mlobs serve oncall`), every interval shortened by configuration."""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from mlobs.local.alertmanager import Alertmanager
from mlobs.local.ports import wait_for_http
from mlobs.local.prometheus import Prometheus, scrape_config
from mlobs.local.rules import DRIFT_ALERT, drift_rule_file, fast_alertmanager_config
from mlobs.stackgen import config as stack_config
from mlobs.traffic.runner import Phase, RunConfig, run_traffic
from mlobs_services.vision import workload
from support.processes import ServiceProcess


def firing(receiver_url: str, alertname: str = DRIFT_ALERT) -> list[dict]:
    """Firing notifications for `alertname` the receiver holds, oldest first."""
    response = httpx.get(f"{receiver_url}/pages", params={"alertname": alertname, "status": "firing"}, timeout=5)
    response.raise_for_status()
    return response.json()["notifications"]


class OnCallStack:
    def __init__(self, workdir: Path, artifacts_dir: Path, window: int = 50):
        self.workdir, self.artifacts_dir, self.window = workdir, artifacts_dir, window
        self.stack = ExitStack()

    def __enter__(self) -> "OnCallStack":
        s, w = self.stack, self.workdir
        self.receiver = s.enter_context(ServiceProcess("oncall", {}, w / "oncall.log"))
        self.exporter = s.enter_context(ServiceProcess("drift-exporter", {
            "MLOBS_ARTIFACTS_DIR": str(self.artifacts_dir), "MLOBS_DRIFT__WINDOW_SIZE": str(self.window),
        }, w / "exporter.log"))
        wait_for_http(f"{self.exporter.url}/readyz", 120, "drift exporter references")
        self.service = s.enter_context(ServiceProcess("vision", {
            "MLOBS_ARTIFACTS_DIR": str(self.artifacts_dir), "MLOBS_AUDIT__ENABLED": "false",
            "MLOBS_ACCESS_LOG": "false", "MLOBS_DRIFT__EXPORTER_URL": self.exporter.url,
            "MLOBS_DRIFT__FLUSH_INTERVAL_SECONDS": "0.2",
        }, w / "vision.log"))
        webhook = f"{self.receiver.url}{stack_config.ONCALL_PATH}"
        self.alertmanager = s.enter_context(Alertmanager(fast_alertmanager_config(webhook), w))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(drift_rule_file(w, window="8s"))],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{self.alertmanager.port}"]}]}]},
            "scrape_configs": [scrape_config("drift-exporter", [f"127.0.0.1:{self.exporter.port}"]),
                               scrape_config("vision", [f"127.0.0.1:{self.service.port}"])],
        }
        self.prometheus = s.enter_context(Prometheus(config, w))
        return self

    def __exit__(self, *exc) -> None:
        self.stack.close()

    def send(self, scenario: str, seconds: float, rate: float = 50.0) -> float:
        """Traffic of one scenario; returns when it started (unix time)."""
        started = time.time()
        config = RunConfig(target=self.service.url, rate=rate, duration_s=seconds, feedback_rate=0.0, seed=1)
        asyncio.run(run_traffic(config, [Phase(0.0, workload.workload(scenario, seed=11))]))
        return started

    def firing(self, alertname: str = DRIFT_ALERT) -> list[dict]:
        return firing(self.receiver.url, alertname)

    def wait_for_page(self, timeout: float) -> float | None:
        """When the drift page reached the receiver (unix time), or None within `timeout`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            pages = [n for n in self.firing() if n.get("route_severity") == "page"]
            if pages:
                return pages[0]["received_at"]
            time.sleep(0.2)
        return None
