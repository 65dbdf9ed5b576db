"""The compose stack on a real Docker engine: build, start, wait for health, `mlobs acceptance` against it
(Grafana, Loki and Tempo included), container logs on failure, everything torn down. Skipped, with the
reason, when no Docker engine answers.

    .venv/bin/python -m pytest -m docker tests/stack/test_compose_docker.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from mlobs.stackgen import config

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]

ROOT = config.ROOT
# The one-shot services exit 0 when done; everything else must be running, and healthy if it has a check.
ONE_SHOT = {"trainer", "grafana-secret", "audit-witness-token", "audit-log-key"}
HOST = "http://localhost"


@pytest.fixture(scope="module")
def engine():
    docker = pytest.importorskip("docker", reason="the Docker SDK for Python (`docker`, in the test extra)")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # DockerException, connection refused, missing socket: all mean "no engine"
        pytest.skip(f"no Docker engine answers ({type(exc).__name__}: {exc})")
    return client


def compose_command() -> list[str]:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.skip("neither `docker compose` nor `docker-compose` is installed")


def wait_healthy(engine, project: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        waiting = []
        for c in engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}):
            service = c.labels.get("com.docker.compose.service", c.name)
            state = c.attrs["State"]
            if service in ONE_SHOT:
                if state["Status"] == "exited" and state["ExitCode"] != 0:
                    raise AssertionError(f"{service} failed (exit {state['ExitCode']})")
                continue
            health = state.get("Health", {}).get("Status")
            if state["Status"] != "running" or health not in (None, "healthy"):
                waiting.append(f"{service}: {state['Status']}/{health}")
        if not waiting:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(5)
    raise AssertionError(f"not healthy after {timeout:.0f} s: {', '.join(waiting)}")


def container_logs(engine, project: str, tail: int = 200) -> str:
    out = []
    for c in engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}):
        out.append(f"--- {c.name} ({c.status})\n{c.logs(tail=tail).decode(errors='replace')}")
    return "\n".join(out)


@pytest.fixture(scope="module")
def stack(engine):
    compose = [*compose_command(), "-f", str(ROOT / "docker-compose.yml"), "-p", f"mlobs-accept-{os.getpid()}"]
    project = compose[-1]
    up = subprocess.run([*compose, "up", "-d", "--build"], cwd=ROOT, capture_output=True, text=True, timeout=3600)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        wait_healthy(engine, project, timeout=900)
        yield project
    except BaseException:
        print(container_logs(engine, project))
        raise
    finally:
        subprocess.run([*compose, "down", "-v", "--remove-orphans"], cwd=ROOT, capture_output=True, timeout=600)


def test_the_acceptance_check_passes_against_the_compose_stack(engine, stack):
    result = subprocess.run(
        [sys.executable, "-m", "mlobs.cli", "acceptance", "--prometheus", f"{HOST}:9090",
         "--alertmanager", f"{HOST}:9093", "--oncall", f"{HOST}:9095", "--grafana", f"{HOST}:3000",
         "--loki-via-grafana", "--tempo-via-grafana", "--wait", "300", "--page-within", "1200"],
        capture_output=True, text=True, timeout=2400)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report + "\n" + container_logs(engine, stack)
