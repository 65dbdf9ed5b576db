"""The exporter's /readyz names the model versions it holds drift references for, so a deployment can check
that the services and the exporter read the same artifacts."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from mlobs.drift.exporter import create_app
from mlobs.drift.reference import save_reference
from mlobs.drift.settings import DriftSettings
from mlobs.settings import Settings


def test_readyz_lists_the_versions_whose_references_are_loaded(tmp_path):
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), 300)
    save_reference(tmp_path / "vision" / "abc123", probs=p)
    (tmp_path / "vision" / "LATEST").write_text("abc123\n")
    settings = Settings(artifacts_dir=tmp_path, drift=DriftSettings(window_size=100, min_window_samples=50),
                        _env_file=None)
    with TestClient(create_app(settings)) as client:
        client.app.state.engine.preload()
        body = client.get("/readyz").json()
    assert body["references"] == ["vision/abc123"]
    assert body["missing_references"] == {}
