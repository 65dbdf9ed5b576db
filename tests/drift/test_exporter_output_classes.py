"""POST /ingest checks shipped outputs against the number of classes of the version's reference without
reading a file on the event loop: a slow or stalled artifacts volume must not stall every other request."""

from __future__ import annotations

import asyncio
import sys

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlobs.drift.exporter import create_app
from mlobs.drift.reference import REFERENCE_FILE, save_reference
from mlobs.drift.settings import DriftSettings
from mlobs.settings import Settings

_watched: list[list[tuple[str, bool]]] = []  # while a test watches: (path, opened on an event loop)


def _on_audit(event: str, args: tuple) -> None:
    if _watched and event == "open" and str(args[0]).endswith(REFERENCE_FILE):
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        _watched[-1].append((str(args[0]), on_loop))


sys.addaudithook(_on_audit)  # an audit hook stays for the process: it records only while a test watches


@pytest.fixture
def opened():
    _watched.append([])
    yield _watched[-1]
    _watched.pop()


def test_an_ingest_of_a_version_not_loaded_yet_reads_its_reference_off_the_event_loop_and_refuses_wrong_lengths(
        tmp_path, opened):
    rng = np.random.default_rng(0)
    save_reference(tmp_path / "vision" / "v1", probs=rng.dirichlet(np.ones(3), 300))  # no LATEST: not preloaded
    settings = Settings(artifacts_dir=tmp_path, drift=DriftSettings(window_size=100, min_window_samples=50),
                        _env_file=None)
    app = create_app(settings)
    good = [{"probs": p.tolist()} for p in rng.dirichlet(np.ones(3), 20)]
    with TestClient(app) as client:
        for _ in range(3):
            response = client.post("/ingest", json={"model": "vision", "model_version": "v1",
                                                    "samples": [{"probs": [0.5, 0.5]}] * 4 + good})
            assert response.json() == {"accepted": 20, "received": 24}
    assert opened, "the reference's classes were never read"
    assert [path for path, on_loop in opened if on_loop] == []
    assert app.state.registry.get_sample_value("mlobs_drift_samples_dropped_total", {
        "service": "vision", "model": "vision", "model_version": "v1", "reason": "invalid_sample"}) == 12
