"""The audit log's storage as the credit service exports it: room on its volumes (checked against
`df`), the raw store's retention and the age of the oldest raw payload it holds."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mlobs import catalog
from mlobs_services.credit import data
from mlobs_services.credit.service import create_app

SLACK = 64 * 2**20  # other writers on the same filesystem between the two readings


def exported(text: str, metric: catalog.Metric, label: str = catalog.STORE) -> dict[str, float]:
    for family in text_string_to_metric_families(text):
        if family.name == metric.name:
            return {s.labels[label]: s.value for s in family.samples}
    return {}


def df(directory: Path, field: str) -> int:
    out = subprocess.run(["df", "-B1", f"--output={field}", str(directory)], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[-1])


@pytest.fixture
def credit(settings, sinks, credit_model, tmp_path):
    keys = tmp_path / "keys"
    audited = settings.model_copy(update={"audit": settings.audit.model_copy(update={
        "store_url": f"sqlite:///{tmp_path / 'log' / 'audit.db'}", "keys_dir": keys,
        "subject_keys_path": keys / "subject_keys.db"})})
    (tmp_path / "log").mkdir()
    app = create_app(audited, configure_logging=False, **sinks.kwargs())
    with TestClient(app) as client:
        yield client, tmp_path


def test_the_credit_service_exports_the_free_space_df_reports_for_the_log_and_the_keys(credit):
    client, tmp_path = credit
    text = client.get("/metrics").text
    free, size = exported(text, catalog.AUDIT_VOLUME_FREE), exported(text, catalog.AUDIT_VOLUME_SIZE)
    assert set(free) == set(size) == {"log", "keys"}
    for store, directory in (("log", tmp_path / "log"), ("keys", tmp_path / "keys")):
        assert abs(free[store] - df(directory, "avail")) < SLACK
        assert size[store] == df(directory, "size")
        assert 0 < free[store] < size[store]


def test_a_store_directory_that_is_gone_reads_as_nan_and_the_scrape_still_answers(credit):
    client, tmp_path = credit
    shutil.rmtree(tmp_path / "keys")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert math.isnan(exported(response.text, catalog.AUDIT_VOLUME_FREE)["keys"])
    assert exported(response.text, catalog.AUDIT_VOLUME_FREE)["log"] > 0


def test_the_credit_service_exports_its_raw_retention_and_the_age_of_the_oldest_raw_payload(credit):
    client, _ = credit
    row = data.generate(1, seed=7)[0]
    body = {k: row[k] for k in ("applicant_id", "personal", "features")}
    assert client.post("/predict", json=body).status_code == 200
    text = client.get("/metrics").text
    assert exported(text, catalog.AUDIT_RAW_RETENTION, catalog.SERVICE) == {"credit": 7 * 86400}
    time.sleep(0.1)
    age = exported(client.get("/metrics").text, catalog.AUDIT_RAW_OLDEST_AGE, catalog.SERVICE)["credit"]
    assert 0 <= age < 60  # seen by the purge thread at its start, or none held yet: never NaN


def test_the_credit_service_exports_how_far_its_wall_clock_was_stepped(credit):
    client, _ = credit
    step = exported(client.get("/metrics").text, catalog.AUDIT_CLOCK_STEP, catalog.SERVICE)["credit"]
    assert abs(step) < 60  # a clock nobody stepped: purges go by it
