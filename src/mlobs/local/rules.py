"""Rule and Alertmanager settings for the native stack: the production drift page with shorter windows, so a
demo or a test sees a page in minutes rather than the production rule's ten."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mlobs.stackgen import alertmanager, alerts, rule_files

DRIFT_ALERT = "EstimatedAccuracyDrop"  # the drift page: outputs drift and estimated accuracy falls
DRIFT_GROUP = "drift"


def drift_rule_file(workdir: Path, window: str, min_windows: int = 3, for_: str = "0s") -> Path:
    """The production drift rule group with the drift alerts' window (every evaluation over it must agree,
    `min_windows` at least) and `for:` replaced; the other drift rules unchanged."""
    group = next(g for g in alerts.rule_groups() if g.name == DRIFT_GROUP)
    rules = tuple(alerts.drift_alerts(window=window, min_windows=min_windows, for_=for_))
    (name, text), = rule_files.rule_files([dataclasses.replace(group, rules=rules)]).items()
    path = Path(workdir) / Path(name).name
    path.write_text(text)
    return path


def fast_alertmanager_config(webhook_url: str, wait: str = "1s", token_file: str | None = None,
                             heartbeat_every: str | None = None) -> dict:
    """The generated Alertmanager config pointed at `webhook_url`, with group_wait and group_interval `wait`
    (and the receiver's token read from `token_file`, if given); with `heartbeat_every`, the heartbeat's
    repeat_interval too (else it keeps the production one, about a minute)."""
    config = alertmanager.config_dict(webhook_url, token_file)
    for route in [config["route"], *config["route"]["routes"]]:
        route.update(group_wait=wait, group_interval=wait)
        if heartbeat_every is not None and route["receiver"] == alertmanager.HEARTBEAT_RECEIVER:
            route["repeat_interval"] = heartbeat_every
    return config
