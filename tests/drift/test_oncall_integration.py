"""Drifted images page the on-call webhook through real Prometheus and Alertmanager when they cost accuracy,
open a ticket when they only change the input, and normal ones do neither."""

from __future__ import annotations

import time

import pytest

from support.oncall import OnCallStack

pytestmark = pytest.mark.integration

RUN_SECONDS = 20


def test_rotated_images_page_on_call_with_the_drift_alert(tmp_path, artifacts_dir, vision_model):
    with OnCallStack(tmp_path, artifacts_dir) as stack:
        stack.send("rotation", RUN_SECONDS)
        assert stack.wait_for_page(timeout=30) is not None
        alert = stack.firing()[0]["alerts"][0]
        assert alert["labels"]["severity"] == "page"
        assert alert["labels"]["model"] == "vision" and alert["labels"]["model_version"] == vision_model[0].version
        assert alert["labels"]["alertname"] == "EstimatedAccuracyDrop"
        assert alert["annotations"]["runbook_url"].endswith("estimated-accuracy-drop.md")
        assert stack.firing()[0]["route_severity"] == "page" and stack.firing()[0]["receiver"] == "oncall-page"


def test_noisy_images_that_cost_no_accuracy_open_a_ticket_and_page_nobody(tmp_path, artifacts_dir, vision_model):
    with OnCallStack(tmp_path, artifacts_dir) as stack:
        stack.send("gaussian-noise", RUN_SECONDS)
        assert stack.wait_for_page(timeout=15) is None
        deadline = time.time() + 15
        while not stack.firing("InputDriftDetected") and time.time() < deadline:
            time.sleep(0.2)
        tickets = stack.firing("InputDriftDetected")
        assert tickets and all(t["route_severity"] == "ticket" for t in tickets)
        assert {a["labels"]["severity"] for t in tickets for a in t["alerts"]} == {"ticket"}


def test_the_same_run_of_normal_images_pages_nobody(tmp_path, artifacts_dir, vision_model):
    with OnCallStack(tmp_path, artifacts_dir) as stack:
        stack.send("normal", RUN_SECONDS)
        assert stack.wait_for_page(timeout=15) is None
        evaluated = stack.prometheus.query('sum(mlobs_drift_evaluations_total{model="vision"})')
        assert evaluated and float(evaluated[0]["value"][1]) >= 4  # windows were evaluated, none paged
