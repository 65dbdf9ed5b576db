"""Realistic open-loop traffic for the reference services (`mlobs traffic`)."""

from __future__ import annotations

from mlobs.traffic.runner import Phase, RunConfig, run_traffic
from mlobs.traffic.stats import Stats, format_summary
from mlobs.traffic.workload import Request, UnknownScenario, Workload, check_scenario

__all__ = [
    "Phase", "Request", "RunConfig", "Stats", "UnknownScenario", "Workload",
    "check_scenario", "format_summary", "run_traffic",
]
