"""Alertmanager's generated config reaches the on-call receiver from where Alertmanager runs: in compose by the
receiver's service name and port (127.0.0.1 inside Alertmanager's container is Alertmanager itself)."""

from __future__ import annotations

import shlex
from urllib.parse import urlsplit

import pytest
import yaml

from mlobs.stackgen import alertmanager, config

LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def webhook_urls(am: dict) -> list[str]:
    return [w["url"] for r in am["receivers"] for w in r.get("webhook_configs", [])]


def served(command: list[str]) -> list[str]:
    """The process a compose command runs: its argument list, or for `sh -c "VAR=... exec CMD"` what it execs."""
    if command[:2] == ["sh", "-c"]:
        words = shlex.split(command[2])
        return words[words.index("exec") + 1:]
    return command


def unreachable_from_compose(am: dict, compose: dict) -> list[str]:
    """Webhook URLs Alertmanager's container cannot reach: loopback, an unknown service, or a port the
    service does not listen on (its `mlobs serve ... --port`)."""
    bad = []
    for url in webhook_urls(am):
        parts = urlsplit(url)
        service = compose["services"].get(parts.hostname)
        if parts.hostname in LOOPBACK or service is None:
            bad.append(f"{url}: {parts.hostname} is not a compose service")
            continue
        command = served(service.get("command") or [])
        port = int(command[command.index("--port") + 1]) if "--port" in command else None
        if port != (parts.port or 80):
            bad.append(f"{url}: {parts.hostname} listens on {port}")
        elif "oncall" not in command or "--host" not in command or command[command.index("--host") + 1] != "0.0.0.0":
            bad.append(f"{url}: {parts.hostname} does not serve the on-call receiver on all interfaces")
    return bad


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((config.ROOT / "docker-compose.yml").read_text())


def test_the_committed_alertmanager_config_reaches_the_receiver_in_compose(compose):
    am = yaml.safe_load((config.ROOT / "stack/alertmanager/alertmanager.yml").read_text())
    assert webhook_urls(am)
    assert unreachable_from_compose(am, compose) == []


def test_a_loopback_receiver_address_is_an_error_in_compose(compose):
    am = alertmanager.config_dict("http://127.0.0.1:9095/alerts")
    assert all("not a compose service" in e for e in unreachable_from_compose(am, compose))
    assert len(unreachable_from_compose(am, compose)) == len(webhook_urls(am))


def test_a_wrong_port_or_service_is_an_error_in_compose(compose):
    assert unreachable_from_compose(alertmanager.config_dict("http://oncall:9999/alerts"), compose)
    assert unreachable_from_compose(alertmanager.config_dict("http://prometheus:9090/alerts"), compose)


def test_alertmanager_mounts_the_generated_config_and_starts_after_the_receiver(compose):
    am = compose["services"]["alertmanager"]
    assert "./stack/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro" in am["volumes"]
    assert am["depends_on"]["oncall"]["condition"] == "service_healthy"


def test_the_examples_tickets_reach_the_receiver_too(compose):
    example = yaml.safe_load((config.ROOT / "stack/alertmanager/examples/pagerduty.yml").read_text())
    tickets = {**example, "receivers": [r for r in example["receivers"] if r["name"] == "oncall-ticket"]}
    assert webhook_urls(tickets) and unreachable_from_compose(tickets, compose) == []
