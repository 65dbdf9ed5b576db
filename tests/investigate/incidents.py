"""Incidents as production Prometheus holds them: replicas, restarts, scrape gaps, idle traffic, a breach
already under way when the range starts. Each is one service's history of an hour, ending at `end`, that
`mlobs investigate --since 15m` would read at its end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from investigate.histories import CREDIT, STEP, State, Writer, emit_moment

MINUTES = 60
# What one process does at a minute of the history: None when it is down (not scraped, `up` 0).
Replicas = Callable[[float], dict[str, State | None]]


@dataclass(frozen=True)
class Incident:
    service: str
    replicas: Replicas
    restarts: tuple[tuple[float, str], ...] = ()  # (minute, instance): that process restarts, counters from 0


def write(incidents: list[Incident], end: float, data_dir: Path) -> None:
    """Every incident's history as one OpenMetrics file, turned into blocks under `data_dir`."""
    import subprocess

    out = Writer()
    start = end - MINUTES * 60
    for incident in incidents:
        restarts = set(incident.restarts)
        for i in range(int(MINUTES * 60 / STEP) + 1):
            t, minute = start + i * STEP, i * STEP / 60
            for instance, state in incident.replicas(minute).items():
                if (minute, instance) in restarts:
                    out.restart(job=incident.service, instance=instance)
                if state is None:
                    out.emit("up", "gauge", "up", {"job": incident.service, "instance": instance}, t, 0.0,
                             counter=False)
                    continue
                emit_moment(out, incident.service, state, t, instance=instance)
    source = data_dir.parent / "incidents.om"
    source.write_text(out.text())
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
                   check=True, capture_output=True)


SLOW = dict(latency_median=0.16, latency_sigma=0.5)


def _from(minute: float, before: State, after: State) -> Callable[[float], State]:
    return lambda m: after if m >= minute else before


def incidents() -> dict[str, Incident]:
    c = CREDIT
    slow = replace(c, **SLOW)
    return {
        "restart": Incident("restart", lambda m: {"a:8000": c, "b:8000": None if 49.75 <= m < 50.25 else c},
                            restarts=((50.25, "b:8000"),)),
        "scrape gap inside the range": Incident("gap", lambda m: {"a:8000": None if 48 <= m < 52 else c}),
        "down since the middle of the range": Incident("down", lambda m: {"a:8000": None if m >= 53 else c}),
        "one of two targets unscraped": Incident("halfunseen", lambda m: {
            "a:8000": replace(c, rate=2.5) if m >= 50 else c, "b:8000": None if m >= 50 else c}),
        "slowed, then unscraped": Incident(
            "slowdown", lambda m: {"a:8000": None if m >= 56 else _from(50, c, slow)(m)}),
        "traffic fell to nothing before the range": Incident("idle",
                                                     lambda m: {"a:8000": replace(c, rate=0.0) if m >= 30 else c}),
        "no traffic at all": Incident("silent", lambda m: {"a:8000": replace(c, rate=0.0)}),
        "breach recovered before the range": Incident("recovered", lambda m: {"a:8000": slow if 20 <= m < 35 else c}),
        "breach began before the range": Incident("early", lambda m: {"a:8000": _from(40, c, slow)(m)}),
        "breach began before the hour looked back at": Incident("longago", lambda m: {"a:8000": slow}),
        "slow from the first request": Incident("firstslow", lambda m: {"a:8000": slow if m >= 50 else replace(
            c, rate=0.0)}),
        "breach at the range's first minute": Incident("edge", lambda m: {"a:8000": _from(46, c, slow)(m)}),
        "name with a quote": Incident('q"uote', lambda m: {"a:8000": _from(50, c, slow)(m)}),
    }
