"""The Prometheus server config, one function for both runs: compose (service names) and `make local` (loopback).

Job names are config.SCRAPE_JOBS, so the alerts that match on `job` see the same jobs in both runs. Exemplar
storage and the remote-write receiver (Tempo's metrics generator writes to it) are command-line flags: FLAGS.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlobs.stackgen import GenerationError, config
from mlobs.stackgen.yamlout import dump

ENVIRONMENT = "environment"  # target label on every scraped series; dashboards filter on it
# A restarted Prometheus restores the `for` state of an alert (from ALERTS_FOR_STATE) only when its `for` is at least
# this; the default, 10m, would leave the drift page, the fast burns and ServiceDown to wait their `for` again, long
# enough for Alertmanager to resolve them and page anew. A firing alert restored fires again at once; a pending one
# with less than this left waits this long after the restart.
FOR_GRACE_PERIOD = "1m"
FLAGS = ("--enable-feature=exemplar-storage", "--web.enable-remote-write-receiver",
         f"--rules.alert.for-grace-period={FOR_GRACE_PERIOD}")
MAX_EXEMPLARS = 100_000

# Compose: where each job is reached, the rule files as mounted, and the stack's own components.
COMPOSE_PATH = "stack/prometheus/prometheus.yml"
COMPOSE_ENVIRONMENT = "compose"
COMPOSE_RULES_DIR = "/etc/prometheus/rules"  # ./alerts is mounted here
COMPOSE_TARGETS = {"sentiment": "sentiment:8000", "vision": "vision:8000", "credit": "credit:8000",
                   "drift-exporter": "drift-exporter:9108"}
COMPOSE_ALERTMANAGER = "alertmanager:9093"
# The stack's components, scraped for their own health (not model jobs: no alert matches them).
COMPOSE_INFRA = {"prometheus": "localhost:9090", "alertmanager": "alertmanager:9093",
                 config.ONCALL_SERVICE: f"{config.ONCALL_SERVICE}:{config.ONCALL_PORT}",
                 "otel-collector": "otel-collector:8888", "loki": "loki:3100", "tempo": "tempo:3200",
                 "audit-witness": "audit-witness:8090"}


def config_dict(targets: Mapping[str, str], *, alertmanager: str, rule_files: list[str], environment: str,
                interval: str = "15s", infra: Mapping[str, str] | None = None) -> dict:
    """`targets` maps each job in config.SCRAPE_JOBS to host:port; `infra` adds other jobs (never a model job)."""
    missing = [job for job in config.SCRAPE_JOBS if job not in targets]
    unknown = [job for job in targets if job not in config.SCRAPE_JOBS]
    if missing or unknown:
        raise GenerationError(f"Prometheus targets must name exactly the jobs {', '.join(config.SCRAPE_JOBS)} "
                              f"(missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'})")
    clash = set(infra or {}) & set(config.SCRAPE_JOBS)
    if clash:
        raise GenerationError(f"infrastructure jobs must not reuse model job names: {', '.join(sorted(clash))}")
    jobs = {**{job: targets[job] for job in config.SCRAPE_JOBS}, **(infra or {})}
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval,
                   "external_labels": {ENVIRONMENT: environment}},
        "storage": {"exemplars": {"max_exemplars": MAX_EXEMPLARS}},
        "rule_files": list(rule_files),
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [address], "labels": {ENVIRONMENT: environment}}]}
            for job, address in jobs.items()
        ],
    }


def compose_config() -> dict:
    return config_dict(COMPOSE_TARGETS, alertmanager=COMPOSE_ALERTMANAGER,
                       rule_files=[f"{COMPOSE_RULES_DIR}/*.rules.yml"], environment=COMPOSE_ENVIRONMENT,
                       interval="5s", infra=COMPOSE_INFRA)


def local_config(ports: Mapping[str, int], *, alertmanager_port: int, rule_files: list[str],
                 environment: str = "local", interval: str = "5s", infra: Mapping[str, int] | None = None) -> dict:
    """The native run: every job on loopback at its port (`infra`: the stack's own components, by port)."""
    return config_dict({job: f"127.0.0.1:{port}" for job, port in ports.items()},
                       alertmanager=f"127.0.0.1:{alertmanager_port}", rule_files=rule_files,
                       environment=environment, interval=interval,
                       infra={job: f"127.0.0.1:{port}" for job, port in (infra or {}).items()})


def files() -> dict[str, str]:
    return {COMPOSE_PATH: dump(compose_config(), source=f"src/mlobs/stackgen/prometheus_config.py "
                                                        f"(flags: {' '.join(FLAGS)})")}
