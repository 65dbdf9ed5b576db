"""Every injected cause, and a clean run, on the native stack: `mlobs investigate` ranks the cause first.

Two stacks run at once, three services each (the full table, every scenario on every service, is
`benchmarks/investigate_scenarios.py`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from mlobs.local import scenarios as sc

PLANS = (
    {"credit": sc.BAD_VERSION, "vision": sc.LATENCY_FAULT, "sentiment": sc.OUTAGE},
    {"credit": sc.CLASS_PRIOR, "vision": sc.CLEAN, "sentiment": sc.INPUT_DRIFT},
)


def test_the_plans_cover_every_cause_and_a_clean_run():
    assert {scenario for plan in PLANS for scenario in plan.values()} == set(sc.EXPECTED)


@pytest.mark.parametrize("service", ["credit", "vision", "sentiment"])
def test_every_scenario_a_service_supports_names_traffic_its_workload_or_any_service_can_send(service, tmp_path):
    from mlobs import registry
    from mlobs.traffic import faults

    for scenario in sc.EXPECTED:
        if not sc.supported(service, scenario):
            continue
        traffic = sc.Plan(tmp_path, tmp_path, {service: scenario}).traffic_scenario(service)
        if not faults.is_generic(traffic):
            assert registry.load(service).workload(traffic, 0).scenario == traffic


def test_sentiment_has_no_bad_version_and_says_so_before_anything_starts(tmp_path):
    assert not sc.supported("sentiment", sc.BAD_VERSION)
    with pytest.raises(ValueError, match="not available for sentiment"):
        sc.run(sc.Plan(tmp_path, tmp_path, {"sentiment": sc.BAD_VERSION}))


@pytest.mark.integration
@pytest.mark.slow
def test_each_injected_cause_is_ranked_first_and_a_clean_run_finds_no_cause(
        tmp_path, artifacts_dir, vision_model, sentiment_model, credit_model):
    # Every model is trained (by the fixtures) before the stacks start, so they never train at once.
    plans = [sc.Plan(tmp_path / f"stack-{i}", artifacts_dir, dict(p), baseline_s=45, after_s=60)
             for i, p in enumerate(PLANS)]
    with ThreadPoolExecutor(len(plans)) as pool:
        outcomes = [o for result in pool.map(sc.run, plans) for o in result]
    table = "\n".join(f"{o.service} {o.scenario}: expected {o.expected}, ranked first {o.top} ({o.top_score})"
                      for o in outcomes)
    wrong = [o for o in outcomes if not o.correct]
    assert not wrong, table + "\n\n" + "\n\n".join(o.text() for o in wrong)
    assert len(outcomes) == 6
    for o in outcomes:
        if o.expected is not None:  # the onset found is the injection, within a few grid steps
            assert abs(o.report.breach.onset - o.injected_at) < 30, table
