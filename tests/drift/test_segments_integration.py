"""The `segment` label of a running drift exporter under churn: a client that posts a new segment id each
window, named to win every tie for the top-N, must not grow the exporter's series one segment at a time."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from mlobs.drift import catalog
from mlobs.drift.segments import OTHER
from mlobs.local.ports import wait_for_http
from support.processes import ServiceProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WINDOW, TOP_N, WINDOWS = 60, 2, 40


def evaluations(url: str) -> tuple[float, set[str]]:
    """Windows the softmax KS test evaluated, and every segment label on /metrics."""
    done, segments = 0.0, set()
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(catalog.DRIFT_EVALUATIONS.total + "{") and 'detector="softmax_ks"' in line:
            done = float(line.rsplit(" ", 1)[1])
        if line.startswith("mlobs_segment_") and 'segment="' in line:
            segments.add(line.split('segment="', 1)[1].split('"', 1)[0])
    return done, segments


def post(url: str, version: str, samples: list[dict]) -> None:
    body = {"service": "sentiment", "model": "sentiment", "model_version": version, "samples": samples}
    assert httpx.post(f"{url}/ingest", content=orjson.dumps(body), timeout=30).status_code == 202


def test_ten_thousand_segment_ids_then_new_ones_churned_through_the_top_n_leave_a_bounded_set_of_labels(
        tmp_path, artifacts_dir, sentiment_model):
    env = {"MLOBS_ARTIFACTS_DIR": str(artifacts_dir), "MLOBS_DRIFT__WINDOW_SIZE": str(WINDOW),
           "MLOBS_DRIFT__MIN_WINDOW_SAMPLES": "10", "MLOBS_DRIFT__SEGMENT_TOP_N": str(TOP_N)}
    sample = {"probs": [0.7, 0.2, 0.1], "text": "a fine product"}
    with ServiceProcess("drift-exporter", env, tmp_path / "exporter.log") as exporter:
        wait_for_http(f"{exporter.url}/readyz", 120, "drift exporter references")
        batches = [[{**sample, "segment": f"flood-{i}"} for i in range(10_000)]]
        names = iter(f"z{i:05d}" for i in range(99_999, 0, -1))  # each new name sorts before every earlier one
        for _ in range(WINDOWS):  # a window of 20 samples from each of three new segments
            batches.append([{**sample, "segment": name} for name in [next(names) for _ in range(3)] for _ in range(20)])
        for batch in batches:
            before, deadline = evaluations(exporter.url)[0], time.monotonic() + 20
            post(exporter.url, sentiment_model.version, batch)
            while evaluations(exporter.url)[0] == before and time.monotonic() < deadline:
                time.sleep(0.02)
        done, segments = evaluations(exporter.url)
    assert done == len(batches)  # every window was evaluated, so each new segment had its chance
    assert OTHER in segments
    assert len(segments) <= 4 * TOP_N + 1
