from __future__ import annotations

import gc

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mlobs import ModelInfo, instrument
from mlobs.heap import freeze_startup_heap
from mlobs.settings import Settings


@pytest.fixture(autouse=True)
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freezing_moves_the_live_heap_out_of_the_collectors_reach():
    keep = [object() for _ in range(10)]  # noqa: F841
    freeze_startup_heap()
    assert gc.get_freeze_count() > 0 and gc.get_count()[2] == 0


@pytest.mark.parametrize("enabled", [True, False])
def test_an_instrumented_app_freezes_its_heap_at_startup_unless_told_not_to(enabled, tmp_path):
    app = FastAPI()
    settings = Settings(gc_freeze=enabled, telemetry_enabled=False, artifacts_dir=tmp_path)
    instrument(app, ModelInfo(name="m", version="v1", training_data_hash="d", code_revision="c"), settings=settings)
    with TestClient(app):
        frozen = gc.get_freeze_count()
    assert (frozen > 0) is enabled
