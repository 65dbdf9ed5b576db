"""What the credit service sends to the drift exporter: the model's inputs coarsened, never an exact income,
on the same grid as the reference the exporter tests them against."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mlobs import artifacts
from mlobs.drift.reference import load_reference
from mlobs.settings import Settings
from mlobs_services.credit import data
from mlobs_services.credit import model as credit
from mlobs_services.credit.coarsen import coarse
from mlobs_services.credit.service import create_app
from support.drift_sink import DriftSink

# Exact values no coarsened one can be mistaken for (each applicant's income and loan amount differ by 1).
EXACT = {"income": 52_345.67, "loan_amount": 12_345.67, "debt_to_income": 0.3456}


@pytest.fixture
def exporter():
    with DriftSink() as fake:
        yield fake


def applications(n: int) -> list[dict]:
    out = []
    for i, row in enumerate(data.generate(n, seed=99)):
        features = {**row["features"], **EXACT, "income": EXACT["income"] + i, "loan_amount": EXACT["loan_amount"] + i}
        out.append({"applicant_id": row["applicant_id"], "personal": row["personal"], "features": features})
    return out


def shipped(client: TestClient, exporter: DriftSink, bodies: list[dict]) -> list[dict]:
    for body in bodies:
        assert client.post("/predict", json=body).status_code == 200
    deadline = time.monotonic() + 10.0
    while len(exporter.samples()) < len(bodies) and time.monotonic() < deadline:
        time.sleep(0.05)
    return exporter.samples()


def test_no_exact_income_or_loan_amount_leaves_the_service_for_the_drift_exporter(settings, sinks, credit_model,
                                                                                 exporter):
    drift = settings.drift.model_copy(update={"exporter_url": exporter.url, "flush_interval_seconds": 0.05})
    app = create_app(settings.model_copy(update={"drift": drift}), configure_logging=False, **sinks.kwargs())
    bodies = applications(5)
    with TestClient(app) as client:
        samples = shipped(client, exporter, bodies)
    assert len(samples) == len(bodies)
    raw = b"".join(exporter.bodies)
    for body in bodies:
        for name in ("income", "loan_amount", "debt_to_income"):
            exact = body["features"][name]
            assert repr(exact).encode() not in raw, f"exact {name} {exact} was shipped"
            assert repr(exact).replace(".", "").encode() not in raw
        for personal in (body["applicant_id"], *body["personal"].values()):
            assert personal.encode() not in raw
    assert b"0.3456" not in raw
    for sample, body in zip(samples, bodies):
        features = sample["features"]
        assert set(features) == {*credit.DRIFT_NUMERIC, *credit.CATEGORICAL}  # no age
        assert features["income"] == coarse(body["features"]["income"]) == 52_300
        assert features["loan_amount"] == 12_300
        assert features["debt_to_income"] == 0.346
        assert features["employment_type"] == body["features"]["employment_type"]


def test_the_reference_the_exporter_tests_against_is_on_the_grid_the_service_ships(settings, credit_model):
    directory, _ = artifacts.require(settings.artifacts_dir, credit_model.name)
    numeric = load_reference(directory)["numeric"]
    assert numeric.shape[1] == len(credit.DRIFT_NUMERIC)
    regridded = np.vectorize(coarse)(numeric)
    assert np.array_equal(numeric, regridded)
    incomes = numeric[:, list(credit.DRIFT_NUMERIC).index("income")]
    assert len(np.unique(incomes)) < len(incomes) / 3  # a grid, not 4,000 exact incomes


def test_coarse_keeps_three_significant_figures_at_every_magnitude():
    assert coarse(52_345.67) == 52_300
    assert coarse(149_999) == 150_000
    assert coarse(0.3456) == 0.346
    assert coarse(7) == 7 and coarse(0) == 0 and coarse(12.34) == 12.3
    assert coarse(-0.04567) == -0.0457


def test_the_exporter_holds_shipped_samples_in_memory_only_until_their_window_is_tested(settings, sinks, credit_model,
                                                                                       exporter, tmp_path):
    from mlobs.drift.exporter import create_app as exporter_app
    from mlobs.drift.settings import DriftSettings

    drift = settings.drift.model_copy(update={"exporter_url": exporter.url, "flush_interval_seconds": 0.05})
    service = create_app(settings.model_copy(update={"drift": drift}), configure_logging=False, **sinks.kwargs())
    bodies = applications(50)
    with TestClient(service) as client:
        samples = shipped(client, exporter, bodies)
    directory = tmp_path / "artifacts"
    shutil.copytree(settings.artifacts_dir / "credit", directory / "credit")
    before = {p: p.stat().st_mtime_ns for p in directory.rglob("*")}
    window = DriftSettings(window_size=50, min_window_samples=50)
    app = exporter_app(Settings(artifacts_dir=directory, drift=window, _env_file=None))
    with TestClient(app) as client:
        answer = client.post("/ingest", json={"service": "credit", "model": credit_model.name,
                                              "model_version": credit_model.version, "samples": samples})
        assert answer.json() == {"accepted": 50, "received": 50}
        assert app.state.engine.wait_idle(60)
        assert client.get("/healthz").json()["windows"] == {f"credit/credit/{credit_model.version}": 0}
        exposed = client.get("/metrics").text
    assert 'mlobs_drift_p_value{detector="tabular_ks",feature="income"' in exposed  # the window was tested
    series = [sample for family in text_string_to_metric_families(exposed) for sample in family.samples]
    assert not [s for s in series if s.value in (52_300, 12_300) or any("52300" in v for v in s.labels.values())]
    assert {p: p.stat().st_mtime_ns for p in directory.rglob("*")} == before  # nothing written, nothing touched
