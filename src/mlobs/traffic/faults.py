"""Scenarios any service's traffic can have, on top of its workload's own: an upstream outage.

An upstream outage (a queue or feature pipeline in front of the model stops delivering) is a volume
collapse: the same requests, most of them never sent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from mlobs.traffic.workload import Request, Workload

OUTAGE = "upstream-outage"
OUTAGE_VOLUME = 0.15  # the share of requests that still arrive
VOLUMES = {OUTAGE: OUTAGE_VOLUME}


@dataclass
class Renamed:
    """`workload`'s requests under another scenario name (so the summary counts them apart)."""

    workload: Workload
    scenario: str

    def next_request(self, rng: random.Random) -> Request:
        return self.workload.next_request(rng)

    def feedback(self, response_json: Any, truth: Any) -> Request | None:
        return self.workload.feedback(response_json, truth)


def is_generic(scenario: str) -> bool:
    return scenario in VOLUMES
