"""The contract between `mlobs traffic` and a service's workload module.

A service module provides `workload(scenario: str, seed: int) -> Workload`. The
runner owns timing and randomness of arrivals; the workload only says what to send.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Request:
    """One HTTP request. `truth` is what the answer should be (for feedback); it is never sent."""

    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] | None = None
    files: list | None = None  # multipart parts, as httpx takes them: [(field, (name, bytes, type)), ...]
    truth: Any = None
    kind: str = "request"


@runtime_checkable
class Workload(Protocol):
    scenario: str

    def next_request(self, rng: random.Random) -> Request:
        """The next request to send; draw all randomness from `rng`."""
        ...

    def feedback(self, response_json: Any, truth: Any) -> Request | None:
        """The follow-up request that reports `truth` for a successful response, or None."""
        ...


# A share of traffic drifting (one client, camera or upstream feature), not all of it: "<shift>-<percent>%".
MIXTURE_SHARES = (5, 10, 20)


def mixture_scenarios(shift: str) -> dict[str, float]:
    """Scenario name -> share of inputs shifted, e.g. {"rotation-10%": 0.1, ...}."""
    return {f"{shift}-{percent}%": percent / 100 for percent in MIXTURE_SHARES}


class UnknownScenario(ValueError):
    pass


def check_scenario(service: str, scenario: str, valid: Iterable[str]) -> None:
    valid = sorted(valid)
    if scenario not in valid:
        raise UnknownScenario(f"unknown scenario {scenario!r} for {service}; choose one of: {', '.join(valid)}")
