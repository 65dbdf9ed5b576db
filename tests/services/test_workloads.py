"""Every model service's traffic: each scenario yields requests its service accepts."""

from __future__ import annotations

import random

import pytest

from mlobs import registry
from mlobs.traffic.workload import UnknownScenario, Workload
from mlobs_services.credit import workload as credit
from mlobs_services.sentiment import workload as sentiment
from mlobs_services.vision import workload as vision

SCENARIOS = {"sentiment": sentiment.SCENARIOS, "credit": credit.SCENARIOS, "vision": vision.SHIFTS}


@pytest.mark.parametrize("service, scenario", [(s, c) for s, names in SCENARIOS.items() for c in names])
def test_each_scenario_yields_requests_to_predict(service, scenario):
    load = registry.load(service).workload(scenario, seed=3)
    assert isinstance(load, Workload)
    requests = [load.next_request(random.Random(i)) for i in range(40)]
    assert all(r.path == "/predict" and r.method == "POST" for r in requests)
    assert sum(not r.kind.startswith("bad:") for r in requests) >= 30


@pytest.mark.parametrize("service", sorted(SCENARIOS))
def test_an_unknown_scenario_names_the_valid_ones(service):
    with pytest.raises(UnknownScenario, match="normal"):
        registry.load(service).workload("tornado", seed=1)
