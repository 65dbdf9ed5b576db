"""The drift exporter, fed credit traffic over HTTP, tells a class-prior shift from a covariate shift
without labels: the estimated share of defaulters and whether that share explains the input drift."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlobs.drift.calibration import load_calibration
from mlobs.drift.exporter import create_app
from mlobs.drift.reference import load_reference, save_reference
from mlobs.drift.settings import DriftSettings
from mlobs.settings import Settings
from mlobs_services.credit import model as credit
from mlobs_services.credit import workload

WINDOW = 200
WINDOWS = 6


def shipped(model, rows: list[dict]) -> list[dict]:
    """What the credit service ships for each application: its outputs and the watched features."""
    p = model.default_probability([r["features"] for r in rows])
    keys = (*credit.DRIFT_NUMERIC, *credit.CATEGORICAL)
    return [{"probs": [1 - q, q], "features": {k: r["features"][k] for k in keys}} for q, r in zip(p, rows)]


def run_windows(artifacts_dir, version: str, scenario: str) -> list[dict]:
    """Send WINDOWS windows of the scenario's traffic; the exporter's prior-shift metrics after each, with the
    window's true accuracy and its CBPE estimate."""
    directory = artifacts_dir / "credit" / version
    model = credit.load(directory)
    cbpe = load_calibration(directory).estimator
    pool = workload.workload(scenario).applications
    rng = random.Random(5)
    settings = Settings(artifacts_dir=artifacts_dir, drift=DriftSettings(window_size=WINDOW, segment_top_n=0),
                        _env_file=None)
    app = create_app(settings)
    seen = []
    with TestClient(app) as client:
        for _ in range(WINDOWS):
            rows = [rng.choice(pool) for _ in range(WINDOW)]
            samples = shipped(model, rows)
            body = {"service": "credit", "model": "credit", "model_version": version, "samples": samples}
            assert client.post("/ingest", json=body).status_code == 202
            assert app.state.engine.wait_idle(60)
            probs = np.array([s["probs"] for s in samples])
            truth = np.array([r["defaulted"] for r in rows], dtype=int)
            seen.append({**read(app, version), "true_accuracy": float(np.mean(probs.argmax(axis=1) == truth)),
                         "cbpe": cbpe.estimate(probs).accuracy})
    return seen


def read(app, version: str) -> dict:
    registry = app.state.registry
    labels = {"service": "credit", "model": "credit", "model_version": version}
    return {
        "explains": registry.get_sample_value("mlobs_drift_prior_shift_explains_input", labels),
        "accuracy": registry.get_sample_value("mlobs_estimated_accuracy", labels),
        "decline": registry.get_sample_value("mlobs_drift_estimated_class_share", {**labels, "class": "decline"}),
        "decline_reference": registry.get_sample_value("mlobs_drift_reference_class_share",
                                                       {**labels, "class": "decline"}),
        "input_drift": max(registry.get_sample_value("mlobs_drift_detected", {**labels, "detector": d, "feature": f})
                           or 0 for d, features in (("tabular_ks", credit.DRIFT_NUMERIC),
                                                    ("tabular_chi2", credit.CATEGORICAL)) for f in features),
    }


def test_half_the_applicants_defaulting_is_estimated_and_explains_the_input_drift(credit_model, artifacts_dir):
    seen = run_windows(artifacts_dir, credit_model.version, workload.CLASS_PRIOR)
    assert all(s["decline_reference"] == pytest.approx(0.11, abs=0.02) for s in seen)
    assert np.mean([s["decline"] for s in seen]) == pytest.approx(workload.PRIOR_DEFAULT_SHARE, abs=0.1), seen
    flagged = [s for s in seen if s["input_drift"]]
    assert len(flagged) >= WINDOWS // 2, seen  # the inputs do move
    assert sum(s["explains"] for s in flagged) >= len(flagged) - 1, seen


def test_a_window_the_class_mix_explains_estimates_the_accuracy_that_mix_gives_not_cbpes(credit_model, artifacts_dir):
    seen = [s for s in run_windows(artifacts_dir, credit_model.version, workload.CLASS_PRIOR) if s["explains"]]
    assert seen
    for s in seen:  # CBPE keeps to the held-out accuracy while the defaulters the model misses multiply
        assert s["cbpe"] - s["true_accuracy"] > 0.15, s
        assert abs(s["accuracy"] - s["true_accuracy"]) < 0.12, s


def test_incomes_forty_percent_lower_are_not_explained_away_by_any_class_mix(credit_model, artifacts_dir):
    seen = run_windows(artifacts_dir, credit_model.version, "income-shift")
    assert all(s["input_drift"] == 1 for s in seen), seen
    assert all(s["explains"] == 0 for s in seen), seen
    assert all(s["accuracy"] == pytest.approx(s["cbpe"]) for s in seen), seen  # covariate shift keeps CBPE


def test_normal_traffic_keeps_the_held_out_class_mix_and_explains_nothing(credit_model, artifacts_dir):
    seen = run_windows(artifacts_dir, credit_model.version, "normal")
    assert np.mean([s["decline"] for s in seen]) == pytest.approx(0.11, abs=0.05), seen
    assert all(s["explains"] == 0 for s in seen), seen


def test_a_reference_without_labels_still_runs_its_drift_tests_and_says_why_it_has_no_prior_estimate(
        tmp_path, caplog):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1, (400, 2))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    save_reference(tmp_path / "old" / "v0", probs=probs)
    assert "labels" not in load_reference(tmp_path / "old" / "v0")
    app = create_app(Settings(artifacts_dir=tmp_path, drift=DriftSettings(window_size=100), _env_file=None))
    with caplog.at_level(logging.INFO, logger="mlobs.drift.prior"), TestClient(app) as client:
        body = {"model": "old", "model_version": "v0", "samples": [{"probs": p.tolist()} for p in probs[:100]]}
        assert client.post("/ingest", json=body).status_code == 202
        assert app.state.engine.wait_idle(30)
        metrics = client.get("/metrics").text
    assert 'mlobs_drift_p_value{detector="softmax_ks"' in metrics
    assert "mlobs_drift_estimated_class_share{" not in metrics
    assert "mlobs_drift_prior_shift_explains_input{" not in metrics
    assert any("no class-prior estimate for old/v0" in r.getMessage() and "train the model again" in r.getMessage()
               for r in caplog.records)
