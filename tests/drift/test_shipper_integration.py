"""A real sentiment service shipping to a drift exporter that is broken in each way a dependency breaks:
inference answers every request and counts what it could not ship."""

from __future__ import annotations

import httpx
import pytest

from protect.services import metric
from support.hostile_exporter import DRIP_BODY, DRIP_HEAD, ERROR, SILENT, HostileExporter
from support.processes import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def dropped(url: str) -> float:
    return sum(metric(url, "mlobs_drift_samples_dropped_total", reason=r) or 0.0
               for r in ("queue_full", "export_failed"))


def test_inference_answers_every_request_whatever_the_exporter_does_and_counts_the_samples_it_drops(
        tmp_path, artifacts_dir, sentiment_model):
    with HostileExporter(SILENT) as exporter:
        env = {"MLOBS_ARTIFACTS_DIR": str(artifacts_dir), "MLOBS_ACCESS_LOG": "false", "MLOBS_AUDIT__ENABLED": "false",
               "MLOBS_DRIFT__EXPORTER_URL": exporter.url, "MLOBS_DRIFT__FLUSH_INTERVAL_SECONDS": "0.05",
               "MLOBS_DRIFT__BATCH_SIZE": "4", "MLOBS_DRIFT__QUEUE_SIZE": "20", "MLOBS_DRIFT__TIMEOUT_SECONDS": "0.2"}
        with ServiceProcess("sentiment", env, tmp_path / "service.log") as service, \
                httpx.Client(timeout=2.0) as client:  # a stalled request would raise here
            for mode in (SILENT, ERROR, DRIP_BODY, DRIP_HEAD):
                exporter.mode = mode
                before = dropped(service.url)
                for i in range(150):
                    response = client.post(f"{service.url}/predict", json={"text": f"a fine product {i}"})
                    assert response.status_code == 200, (mode, response.text)
                assert dropped(service.url) > before, mode
            assert (metric(service.url, "mlobs_drift_samples_shipped_total") or 0.0) == 0.0
