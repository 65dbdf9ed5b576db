"""Drifted images page the on-call webhook through real Prometheus and Alertmanager when they cost accuracy,
open a ticket when they only change the input, and normal ones do neither.

One stack per scenario, all three at once: each run is mostly waiting (for windows, rules and
Alertmanager), so they overlap."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest

from support.oncall import OnCallStack

pytestmark = pytest.mark.integration

RUN_SECONDS = 20
SCENARIOS = ("rotation", "gaussian-noise", "normal")


class Run:
    def __init__(self, stack: OnCallStack, scenario: str):
        self.stack, self.scenario = stack, scenario
        self.ended = 0.0

    def send(self) -> None:
        self.stack.send(self.scenario, RUN_SECONDS)
        self.ended = time.time()

    def seconds_since_traffic(self, seconds: float) -> float:
        """What is left of `seconds` after the traffic ended (at least a moment)."""
        return max(0.5, self.ended + seconds - time.time())


@pytest.fixture(scope="module")
def runs(tmp_path_factory, artifacts_dir, vision_model):
    stacks = {s: OnCallStack(tmp_path_factory.mktemp(s), artifacts_dir) for s in SCENARIOS}
    with ExitStack() as running, ThreadPoolExecutor(len(stacks)) as pool:
        starting = {s: pool.submit(stack.__enter__) for s, stack in stacks.items()}
        for scenario, future in starting.items():  # every stack that started is stopped, whatever failed
            if future.exception() is None:
                running.push(stacks[scenario].__exit__)
        for future in starting.values():
            future.result()
        runs = {s: Run(stack, s) for s, stack in stacks.items()}
        for sent in [pool.submit(run.send) for run in runs.values()]:
            sent.result()
        yield runs


def test_rotated_images_page_on_call_with_the_drift_alert(runs, vision_model):
    run = runs["rotation"]
    stack = run.stack
    assert stack.wait_for_page(timeout=run.seconds_since_traffic(30)) is not None
    alert = stack.firing()[0]["alerts"][0]
    assert alert["labels"]["severity"] == "page"
    assert alert["labels"]["model"] == "vision" and alert["labels"]["model_version"] == vision_model[0].version
    assert alert["labels"]["alertname"] == "EstimatedAccuracyDrop"
    assert alert["annotations"]["runbook_url"].endswith("estimated-accuracy-drop.md")
    assert stack.firing()[0]["route_severity"] == "page" and stack.firing()[0]["receiver"] == "oncall-page"


def test_noisy_images_that_cost_no_accuracy_open_a_ticket_and_page_nobody(runs):
    run = runs["gaussian-noise"]
    stack = run.stack
    assert stack.wait_for_page(timeout=run.seconds_since_traffic(15)) is None
    deadline = time.time() + 15
    while not stack.firing("InputDriftDetected") and time.time() < deadline:
        time.sleep(0.2)
    tickets = stack.firing("InputDriftDetected")
    assert tickets and all(t["route_severity"] == "ticket" for t in tickets)
    assert {a["labels"]["severity"] for t in tickets for a in t["alerts"]} == {"ticket"}


def test_the_same_run_of_normal_images_pages_nobody(runs):
    run = runs["normal"]
    stack = run.stack
    assert stack.wait_for_page(timeout=run.seconds_since_traffic(15)) is None
    evaluated = stack.prometheus.query('sum(mlobs_drift_evaluations_total{model="vision"})')
    assert evaluated and float(evaluated[0]["value"][1]) >= 4  # windows were evaluated, none paged
