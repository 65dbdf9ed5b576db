from __future__ import annotations

import gc

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from mlobs import ModelInfo, instrument
from mlobs.heap import freeze_startup_heap, set_young_threshold, tune_gc
from mlobs.settings import Settings


@pytest.fixture(autouse=True)
def unfrozen():
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.slow  # a full collection of the whole test session's heap
def test_freezing_moves_the_live_heap_out_of_the_collectors_reach():
    keep = [object() for _ in range(10)]  # noqa: F841
    freeze_startup_heap()
    assert gc.get_freeze_count() > 0 and gc.get_count()[2] == 0


MODEL = ModelInfo(name="m", version="v1", training_data_hash="d", code_revision="c")


def test_instrument_alone_leaves_the_garbage_collector_as_it_was(tmp_path):
    thresholds = gc.get_threshold()
    app = FastAPI()
    instrument(app, MODEL, settings=Settings(artifacts_dir=tmp_path), configure_logging=False,
               registry=CollectorRegistry())
    with TestClient(app):
        assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds


@pytest.mark.parametrize("enabled", [pytest.param(True, marks=pytest.mark.slow), False])  # slow: a full collection
def test_an_app_tuning_its_gc_freezes_its_heap_at_startup_unless_told_not_to(enabled, tmp_path):
    app = FastAPI()
    settings = Settings(gc_freeze=enabled, telemetry_enabled=False, artifacts_dir=tmp_path)
    instrument(app, MODEL, settings=settings)
    tune_gc(app, settings)
    with TestClient(app):
        frozen = gc.get_freeze_count()
    assert (frozen > 0) is enabled


def test_objects_kept_alive_below_the_young_threshold_trigger_no_collection():
    collections = []

    def record(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(record)
    try:
        set_young_threshold(700)
        kept = [[] for _ in range(5_000)]
        assert collections  # Python's default collects several times for this many
        collections.clear()
        set_young_threshold(10_000)
        kept = [[] for _ in range(5_000)]  # noqa: F841
        assert collections == []
    finally:
        gc.callbacks.remove(record)


def test_setting_the_young_threshold_leaves_the_older_generations_alone():
    older = gc.get_threshold()[1:]
    set_young_threshold(4_321)
    assert gc.get_threshold() == (4_321, *older)


def test_an_app_tuning_its_gc_sets_its_young_threshold_at_startup(tmp_path):
    app = FastAPI()
    # Not frozen: freezing collects the whole heap first, which this test does not need to pay for.
    settings = Settings(gc_young_threshold=12_345, gc_freeze=False, telemetry_enabled=False, artifacts_dir=tmp_path)
    instrument(app, MODEL, settings=settings)
    tune_gc(app, settings)
    assert gc.get_threshold()[0] != 12_345
    with TestClient(app):
        assert gc.get_threshold()[0] == 12_345


def test_an_app_with_a_lifespan_of_its_own_freezes_its_heap_after_that_lifespan_loaded_its_model(tmp_path):
    """FastAPI runs no on_startup handler for an app with `lifespan=`, the way its docs load a model."""
    from contextlib import asynccontextmanager

    seen = {}

    @asynccontextmanager
    async def lifespan(app):
        seen["frozen while loading"] = gc.get_freeze_count()
        yield

    app = FastAPI(lifespan=lifespan)
    tune_gc(app, Settings(gc_freeze=True, telemetry_enabled=False, artifacts_dir=tmp_path))
    with TestClient(app):
        assert seen["frozen while loading"] == 0 and gc.get_freeze_count() > 0
