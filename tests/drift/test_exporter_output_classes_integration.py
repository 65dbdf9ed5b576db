"""A running drift exporter checks shipped outputs against the classes of each version's reference, whether
the reference was loaded at start, appears while it runs, or is missing."""

from __future__ import annotations

import httpx
import numpy as np
import orjson
import pytest

from mlobs.drift.reference import save_reference
from support.processes import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

THREE = [0.2, 0.3, 0.5]
TWO = [0.4, 0.6]


@pytest.fixture(scope="module")
def exporter(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("exporter-classes")
    save_reference(workdir / "artifacts" / "vision" / "v1", probs=np.random.default_rng(0).dirichlet(np.ones(3), 300))
    (workdir / "artifacts" / "vision" / "LATEST").write_text("v1\n")
    env = {"MLOBS_ARTIFACTS_DIR": str(workdir / "artifacts"), "MLOBS_DRIFT__REFERENCE_RETRY_SECONDS": "0"}
    with ServiceProcess("drift-exporter", env, workdir / "exporter.log") as running:
        running.artifacts = workdir / "artifacts"
        yield running


def ingest(url: str, version: str, samples: list[list[float]]) -> dict:
    body = orjson.dumps({"service": "vision", "model": "vision", "model_version": version,
                         "samples": [{"probs": p} for p in samples]})
    response = httpx.post(f"{url}/ingest", content=body, headers={"content-type": "application/json"}, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()


def dropped(url: str, version: str, reason: str) -> float:
    prefix = "mlobs_drift_samples_dropped_total{"
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(prefix) and f'model_version="{version}"' in line and f'reason="{reason}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_outputs_of_another_length_than_the_loaded_reference_are_dropped_and_counted(exporter):
    before = dropped(exporter.url, "v1", "invalid_sample")
    assert ingest(exporter.url, "v1", [TWO] * 5 + [THREE] * 7) == {"accepted": 7, "received": 12}
    assert dropped(exporter.url, "v1", "invalid_sample") == before + 5


def test_a_version_without_reference_takes_outputs_of_any_length_until_its_reference_appears(exporter):
    assert ingest(exporter.url, "v2", [TWO] * 3 + [THREE] * 3) == {"accepted": 6, "received": 6}
    save_reference(exporter.artifacts / "vision" / "v2", probs=np.random.default_rng(1).dirichlet(np.ones(2), 300))
    assert ingest(exporter.url, "v2", [TWO] * 3 + [THREE] * 4) == {"accepted": 3, "received": 7}
    assert dropped(exporter.url, "v2", "invalid_sample") == 4
    assert httpx.get(f"{exporter.url}/healthz").status_code == 200
