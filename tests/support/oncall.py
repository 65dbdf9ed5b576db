"""The on-call path, for real: vision service -> drift exporter -> Prometheus (drift rules) ->
Alertmanager -> a webhook, every interval shortened by configuration."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from contextlib import ExitStack
from pathlib import Path

from mlobs.local.alertmanager import Alertmanager
from mlobs.local.ports import wait_for_http
from mlobs.local.prometheus import Prometheus, scrape_config
from mlobs.stackgen import alertmanager, alerts, prometheus
from mlobs.traffic.runner import Phase, RunConfig, run_traffic
from mlobs_services.vision import workload
from support.processes import ServiceProcess
from support.webhook import Webhook

DRIFT_ALERT = "EstimatedAccuracyDrop"  # the drift page: outputs drift and estimated accuracy falls


def drift_rules(workdir: Path) -> Path:
    """The production drift rules with 10m/1m shortened: every window over 8 s (3 at least) must agree."""
    group = next(g for g in alerts.rule_groups() if g.name == "drift")
    rules = tuple(alerts.drift_alerts(window="8s", min_windows=3, for_="0s"))
    (name, text), = prometheus.rule_files([dataclasses.replace(group, rules=rules)]).items()
    path = workdir / Path(name).name
    path.write_text(text)
    return path


def fast_alertmanager_config(webhook_url: str) -> dict:
    config = alertmanager.config_dict(webhook_url)
    for route in [config["route"], *config["route"]["routes"]]:
        route.update(group_wait="1s", group_interval="1s")
    return config


class OnCallStack:
    def __init__(self, workdir: Path, artifacts_dir: Path, window: int = 50):
        self.workdir, self.artifacts_dir, self.window = workdir, artifacts_dir, window
        self.stack = ExitStack()

    def __enter__(self) -> "OnCallStack":
        s, w = self.stack, self.workdir
        self.webhook = s.enter_context(Webhook())
        self.exporter = s.enter_context(ServiceProcess("drift-exporter", {
            "MLOBS_ARTIFACTS_DIR": str(self.artifacts_dir), "MLOBS_DRIFT__WINDOW_SIZE": str(self.window),
        }, w / "exporter.log"))
        wait_for_http(f"{self.exporter.url}/readyz", 120, "drift exporter references")
        self.service = s.enter_context(ServiceProcess("vision", {
            "MLOBS_ARTIFACTS_DIR": str(self.artifacts_dir), "MLOBS_AUDIT__ENABLED": "false",
            "MLOBS_ACCESS_LOG": "false", "MLOBS_DRIFT__EXPORTER_URL": self.exporter.url,
            "MLOBS_DRIFT__FLUSH_INTERVAL_SECONDS": "0.2",
        }, w / "vision.log"))
        self.alertmanager = s.enter_context(Alertmanager(fast_alertmanager_config(self.webhook.url), w))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(drift_rules(w))],
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

    def wait_for_page(self, timeout: float) -> float | None:
        """When the drift page reached the webhook (unix time), or None within `timeout`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            firing = self.webhook.firing(DRIFT_ALERT)
            if firing:
                return firing[0]["received_at"]
            time.sleep(0.2)
        return None
