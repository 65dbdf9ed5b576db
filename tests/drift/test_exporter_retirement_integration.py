"""A running drift exporter drops the series of a model version its service has moved on from, and keeps
those of a service that merely went quiet (DriftEvaluationStale must keep firing for it)."""

from __future__ import annotations

import time
from contextlib import contextmanager

import httpx
import numpy as np
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlobs.drift.reference import save_reference
from support.processes import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RETIRE_AFTER = 1.0
WINDOW = 60


@contextmanager
def running_exporter(workdir, max_streams: int = 256):
    rng = np.random.default_rng(0)
    for version in ("v1", "v2", "v3"):
        save_reference(workdir / "artifacts" / "vision" / version, probs=rng.dirichlet([4.0, 2.0, 1.0], 300))
    env = {"MLOBS_ARTIFACTS_DIR": str(workdir / "artifacts"), "MLOBS_DRIFT__RETIRE_AFTER_SECONDS": str(RETIRE_AFTER),
           "MLOBS_DRIFT__WINDOW_SIZE": str(WINDOW), "MLOBS_DRIFT__MIN_WINDOW_SAMPLES": "50",
           "MLOBS_DRIFT__MAX_STREAMS": str(max_streams)}
    with ServiceProcess("drift-exporter", env, workdir / "exporter.log") as running:
        yield running.url


def ship(url: str, version: str, service: str = "vision") -> int:
    samples = [{"probs": p.tolist()} for p in np.random.default_rng(1).dirichlet([4.0, 2.0, 1.0], WINDOW)]
    body = orjson.dumps({"service": service, "model": "vision", "model_version": version, "samples": samples})
    headers = {"content-type": "application/json"}
    return httpx.post(f"{url}/ingest", content=body, headers=headers, timeout=10).status_code


def scrape(url: str) -> list:
    text = httpx.get(f"{url}/metrics").text
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def series(url: str, service: str, version: str) -> dict[str, float]:
    """The stream's series on /metrics, by sample name (the last of a name wins: enough to test presence)."""
    return {s.name: s.value for s in scrape(url)
            if (s.labels.get("service"), s.labels.get("model"), s.labels.get("model_version")) ==
            (service, "vision", version)}


def retired(url: str) -> float:
    return next((s.value for s in scrape(url) if s.name == "mlobs_drift_streams_retired_total"), 0.0)


def eventually(check, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return result


def evaluated(url: str, service: str, version: str) -> bool:
    return series(url, service, version).get("mlobs_drift_evaluations_total") == 1


def test_a_version_the_service_moved_on_from_loses_its_series_and_a_quiet_service_keeps_its_own(tmp_path):
    with running_exporter(tmp_path) as url:
        assert ship(url, "v1") == 202 and ship(url, "v1", service="quiet") == 202
        assert eventually(lambda: evaluated(url, "vision", "v1") and evaluated(url, "quiet", "v1"))
        before = series(url, "vision", "v1")
        assert {"mlobs_drift_p_value", "mlobs_drift_detected", "mlobs_drift_threshold",
                "mlobs_drift_reference_missing", "mlobs_drift_samples_received_total"} <= before.keys()
        time.sleep(3 * RETIRE_AFTER)  # idle past the bound, but neither service has sent anything newer
        assert series(url, "vision", "v1") == before
        assert retired(url) == 0

        assert ship(url, "v2") == 202  # the service moves to v2; "quiet" stays silent
        assert eventually(lambda: not series(url, "vision", "v1"))
        assert retired(url) == 1
        assert series(url, "vision", "v2")["mlobs_drift_samples_received_total"] == WINDOW
        assert "mlobs_drift_last_evaluation_timestamp_seconds" in series(url, "quiet", "v1")
        assert "vision/vision/v1" not in httpx.get(f"{url}/healthz").json()["windows"]


def test_a_version_rolled_back_to_comes_back_whole_and_a_retired_stream_frees_its_place(tmp_path):
    with running_exporter(tmp_path, max_streams=2) as url:
        assert ship(url, "v1") == 202
        assert eventually(lambda: evaluated(url, "vision", "v1"))
        assert ship(url, "v2") == 202
        assert eventually(lambda: retired(url) == 1)

        assert ship(url, "v1") == 202  # rolled back: v1 again, its reference loaded afresh
        assert eventually(lambda: evaluated(url, "vision", "v1"))
        assert series(url, "vision", "v1")["mlobs_drift_reference_missing"] == 0
        assert eventually(lambda: retired(url) == 2)  # now v2 is the version moved on from

        assert ship(url, "v3", service="canary") == 202  # the place v2 held
        assert ship(url, "v3", service="another") == 429
