"""The Docker suite's health wait, against containers as the Docker SDK describes them (no engine needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from stack.test_compose_docker import wait_healthy


def container(service: str, status: str = "running", health: str | None = "healthy", exit_code: int = 0):
    state = {"Status": status, "ExitCode": exit_code, **({"Health": {"Status": health}} if health else {})}
    return SimpleNamespace(name=f"p-{service}-1", labels={"com.docker.compose.service": service},
                           attrs={"State": state})


class Engine:
    def __init__(self, *containers):
        self.containers = SimpleNamespace(list=lambda **kw: list(containers))


def test_healthy_services_and_finished_one_shots_are_ready():
    wait_healthy(Engine(container("vision"), container("loki", health=None),
                        container("trainer", status="exited", health=None)), "p", timeout=1)


def test_a_one_shot_that_failed_stops_the_wait_with_its_exit_code():
    with pytest.raises(AssertionError, match="trainer failed .exit 1"):
        wait_healthy(Engine(container("trainer", status="exited", health=None, exit_code=1)), "p", timeout=1)


def test_an_unhealthy_service_is_named_when_the_wait_times_out():
    with pytest.raises(AssertionError, match="vision: running/starting"):
        wait_healthy(Engine(container("vision", health="starting")), "p", timeout=0)
