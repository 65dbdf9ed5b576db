"""The native stack (`make local`): the three model services, the drift exporter, the on-call receiver,
the audit witness cosigning the credit service's checkpoints, Prometheus and Alertmanager from the OS
packages with the generated rule files, and traffic for every service. No Docker."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from mlobs import artifacts, registry
from mlobs.drift.calibration import CALIBRATION_FILE
from mlobs.drift.prior import LABELS, OUTPUTS
from mlobs.audit.keys.pseudonym import write_private
from mlobs.drift.reference import reference_keys
from mlobs.local.alertmanager import Alertmanager
from mlobs.local.ports import free_port
from mlobs.local.prometheus import Prometheus
from mlobs.local.rules import drift_rule_file, fast_alertmanager_config
from mlobs.local import witness
from mlobs.local.service import Child, Service, traffic
from mlobs.stackgen import config, prometheus_config

MODEL_SERVICES = registry.MODEL_SERVICES
EXPORTER = "drift-exporter"
ONCALL = "oncall"
# Port = base + offset; base 0 picks free ports.
OFFSETS = {"prometheus": 90, "alertmanager": 93, "sentiment": 1, "vision": 2, "credit": 3, EXPORTER: 8, ONCALL: 95,
           witness.NAME: 96}
# After the normal workload, each service gets a shift the drift exporter should catch.
SHIFTS = {"sentiment": "domain-shift", "vision": "rotation", "credit": "income-shift"}


@dataclass
class Options:
    workdir: Path
    artifacts_dir: Path
    ports_base: int = 18000
    rate: float = 5.0                 # requests per second per service
    traffic_seconds: float = 86400.0  # how long traffic runs (the stack may run longer)
    scenario_delay: float = 120.0     # normal traffic first, then the shift
    interval: str = "5s"              # scrape and rule evaluation
    drift_window: int = 200
    # EstimatedAccuracyDrop needs every drift evaluation over this window to agree (production: 10m).
    drift_page_window: str = "3m"
    # Alertmanager's group_wait and group_interval (production: 10s/5m for pages).
    alert_wait: str = "10s"
    environment: str = "local"
    shifts: dict[str, str] = field(default_factory=lambda: dict(SHIFTS))
    # Extra environment of one service's process, e.g. a fault setting for a scenario run.
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    # Ports a second instance of a service will take over on: scraped under the same job from the start.
    standby_ports: dict[str, int] = field(default_factory=dict)

    def port(self, name: str) -> int:
        return free_port() if self.ports_base == 0 else self.ports_base + OFFSETS[name]


def needs_training(artifacts_dir: Path, model: str) -> bool:
    """No published version, or one made before drift calibration (without it the exporter runs nominal
    thresholds and estimates no accuracy, so the stack's drift page could never fire), or one whose
    reference holds the model's outputs but not the held-out labels the class-prior estimate needs."""
    directory = artifacts.version_dir(artifacts_dir, model)
    if directory is None or not (directory / CALIBRATION_FILE).exists():
        return True
    keys = reference_keys(directory)
    return OUTPUTS in keys and LABELS not in keys


def train_missing(artifacts_dir: Path, log_path: Path) -> list[str]:
    """Train every model whose artifact is missing or uncalibrated (the drift exporter needs them all);
    returns what was trained."""
    trained = []
    for name in MODEL_SERVICES:
        model = registry.load(name).NAME
        if needs_training(artifacts_dir, model):
            with open(log_path, "ab") as log:
                subprocess.run([sys.executable, "-m", "mlobs.cli", "train", name, "--quiet"], check=True,
                               env={**os.environ, "MLOBS_ARTIFACTS_DIR": str(artifacts_dir)}, stdout=log,
                               stderr=subprocess.STDOUT)
            trained.append(name)
    return trained


def rule_files(root: Path = config.ROOT) -> list[str]:
    files = sorted(str(p) for p in (root / "alerts").glob("*.rules.yml"))
    if not files:
        raise RuntimeError(f"no rule files in {root / 'alerts'}: run `make generate`")
    return files


def local_rule_files(workdir: Path, drift_page_window: str, root: Path = config.ROOT) -> list[str]:
    """The generated rule files, the drift group's replaced by one whose page window is `drift_page_window`."""
    drift = drift_rule_file(workdir, window=drift_page_window)
    return [str(drift) if Path(f).name == drift.name else f for f in rule_files(root)]


# Prometheus drops the alerts of its first evaluations, made before it has found Alertmanager, and sends
# firing ones again only every resend delay (1m by default): the heartbeat, always firing, would first
# reach the receiver a minute after the start.
FAST_RESEND = ("--rules.alert.resend-delay=10s",)


def alertmanager_config(receiver_url: str, wait: str, token_file: Path | None = None) -> dict:
    """The generated Alertmanager config, sending to the on-call receiver at `receiver_url` (its base URL),
    with the receiver's token from `token_file`."""
    return fast_alertmanager_config(f"{receiver_url}{config.ONCALL_PATH}", wait,
                                    str(token_file) if token_file is not None else None)


def _add_standby_targets(prom_config: dict, standby_ports: dict[str, int]) -> None:
    for job in prom_config["scrape_configs"]:
        if job["job_name"] in standby_ports:
            job["static_configs"][0]["targets"].append(f"127.0.0.1:{standby_ports[job['job_name']]}")


class LocalStack:
    def __init__(self, options: Options):
        self.options = options
        self.workdir = Path(options.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stack = ExitStack()
        self.services: dict[str, Service] = {}
        self.traffic: list[Child] = []
        self.prometheus: Prometheus | None = None
        self.alertmanager: Alertmanager | None = None
        self.shift_at: float | None = None  # unix time the traffic shifts begin
        self.witness_token = witness.new_token()  # made for this run: the credit service and its witness
        # Made for this run too: drift samples to the exporter, and Alertmanager's pages to the receiver.
        self.ingest_token = secrets.token_urlsafe(32)
        self.oncall_token = secrets.token_urlsafe(32)

    def _service_env(self, name: str) -> dict[str, str]:
        o = self.options
        env = {"MLOBS_ARTIFACTS_DIR": str(o.artifacts_dir), "MLOBS_ENVIRONMENT": o.environment,
               "OTEL_SERVICE_NAME": name}
        if name == EXPORTER:
            env.update(MLOBS_DRIFT__WINDOW_SIZE=str(o.drift_window), MLOBS_DRIFT__INGEST_TOKEN=self.ingest_token)
            return env
        if name == ONCALL:
            env.update(MLOBS_ONCALL__JOURNAL_PATH=str(self.workdir / "pages.jsonl"),
                       MLOBS_ONCALL__TOKEN=self.oncall_token)
            return env
        audit = self.workdir / "audit" / name
        env.update(MLOBS_DRIFT__EXPORTER_URL=self.services[EXPORTER].url, MLOBS_DRIFT__INGEST_TOKEN=self.ingest_token,
                   MLOBS_AUDIT__STORE_URL=f"sqlite:///{audit / 'audit.db'}",
                   MLOBS_AUDIT__KEYS_DIR=str(audit / "keys"))
        if name == witness.WATCHED:
            env.update(witness.log_env(self.witness_token))
        env.update(o.service_env.get(name, {}))
        return env

    def _start_witness(self) -> None:
        """After the credit service is up (its log's public key exists): the witness of its log."""
        o, w = self.options, self.workdir
        watched = self.services[witness.WATCHED]
        service = witness.witness_service(watched.url, w / "audit" / witness.WATCHED / "keys", w / witness.NAME,
                                          o.port(witness.NAME), self.witness_token, w / f"{witness.NAME}.log")
        self.services[witness.NAME] = service
        self.stack.callback(service.stop)
        service.start()
        service.wait_ready()

    def start(self) -> "LocalStack":
        o, w = self.options, self.workdir
        try:
            train_missing(o.artifacts_dir, w / "train.log")
            for name in (ONCALL, EXPORTER, *MODEL_SERVICES):
                self.services[name] = Service(name, o.port(name), {}, w / f"{name}.log")
            for service in self.services.values():  # start together: imports (torch) overlap
                service.env.update(self._service_env(service.name))
                self.stack.callback(service.stop)
                service.start()
            for service in self.services.values():
                service.wait_ready()
            self._start_witness()
            am_dir = w / "alertmanager"
            am_dir.mkdir(exist_ok=True)
            token_file = am_dir / "oncall-token"
            write_private(token_file, self.oncall_token.encode())
            self.alertmanager = self.stack.enter_context(Alertmanager(
                alertmanager_config(self.services[ONCALL].url, o.alert_wait, token_file), am_dir,
                port=o.port("alertmanager")))
            prom_dir = w / "prometheus"
            prom_dir.mkdir(exist_ok=True)
            prom_config = prometheus_config.local_config(
                {name: s.port for name, s in self.services.items() if name not in (ONCALL, witness.NAME)},
                infra={ONCALL: self.services[ONCALL].port, witness.NAME: self.services[witness.NAME].port,
                       "alertmanager": self.alertmanager.port},
                alertmanager_port=self.alertmanager.port,
                rule_files=local_rule_files(prom_dir, o.drift_page_window), environment=o.environment,
                interval=o.interval)
            _add_standby_targets(prom_config, o.standby_ports)
            self.prometheus = self.stack.enter_context(Prometheus(
                prom_config, prom_dir, port=o.port("prometheus"), features=(),
                flags=(*prometheus_config.FLAGS, *FAST_RESEND)))
            for i, name in enumerate(MODEL_SERVICES):
                child = traffic(name, self.services[name].url, rate=o.rate, duration=o.traffic_seconds,
                                scenario=o.shifts.get(name, "normal"), scenario_delay=o.scenario_delay, seed=i,
                                log_path=w / f"traffic-{name}.log")
                self.traffic.append(child)
                self.stack.callback(child.stop)
                child.start()
            self.shift_at = time.time() + o.scenario_delay
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop everything, last started first: traffic, Prometheus, Alertmanager, then the services."""
        self.stack.close()

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def receiver_url(self) -> str:
        return self.services[ONCALL].url

    def failed(self) -> list[str]:
        """Children that exited on their own (traffic that finished its duration is not a failure)."""
        return [s.name for s in self.services.values() if not s.running]

    def where(self) -> list[tuple[str, str]]:
        out = [("Prometheus", self.prometheus.url), ("Alertmanager", self.alertmanager.url),
               ("pages", f"{self.services[ONCALL].url}/pages")]
        out += [(name, f"{s.url}  (metrics {s.url}/metrics)") for name, s in self.services.items()
                if name != witness.NAME]
        if witness.NAME in self.services:
            url = self.services[witness.NAME].url
            out += [(witness.NAME, f"{url}/checkpoint  (newest cosigned of {witness.WATCHED}'s audit log; all, "
                                   f"1,000 a page: {url}/checkpoints; health {url}/healthz)")]
        out += [("logs", str(self.workdir))]
        return out
