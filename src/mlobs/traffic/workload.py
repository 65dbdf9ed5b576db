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


class UnknownScenario(ValueError):
    pass


def check_scenario(service: str, scenario: str, valid: Iterable[str]) -> None:
    valid = sorted(valid)
    if scenario not in valid:
        raise UnknownScenario(f"unknown scenario {scenario!r} for {service}; choose one of: {', '.join(valid)}")
