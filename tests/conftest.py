"""Fixtures shared across the test tree."""

from __future__ import annotations

import io

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from mlobs.settings import Settings


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL cluster on a free loopback port, one for the whole run."""
    from support.postgres import postgres_cluster

    with postgres_cluster() as url:
        yield url


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory):
    """One artifacts directory per test session; models are trained into it once."""
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def sentiment_model(artifacts_dir):
    from mlobs_services.sentiment import model

    return model.train(artifacts_dir, progress=False)


@pytest.fixture(scope="session")
def credit_model(artifacts_dir):
    """Trained once per session. Training is deterministic, so every test that trains the credit model
    into `artifacts_dir` again would publish this same version: take this fixture instead."""
    from mlobs_services.credit import model

    return model.train(artifacts_dir, progress=False)


@pytest.fixture
def settings(artifacts_dir) -> Settings:
    return Settings(artifacts_dir=artifacts_dir, _env_file=None)


class Sinks:
    """Where one app's telemetry goes in a test: spans in memory, a fresh registry, logs in a buffer."""

    def __init__(self):
        self.spans = InMemorySpanExporter()
        self.registry = CollectorRegistry()
        self.log_stream = io.BytesIO()

    def kwargs(self) -> dict:
        return {"span_exporter": self.spans, "registry": self.registry, "log_stream": self.log_stream}

    def sample(self, name: str, labels: dict) -> float | None:
        return self.registry.get_sample_value(name, labels)

    def log_lines(self) -> list[dict]:
        import orjson

        return [orjson.loads(line) for line in self.log_stream.getvalue().splitlines() if line]


@pytest.fixture
def sinks() -> Sinks:
    return Sinks()


@pytest.fixture(scope="session")
def vision_model(request, artifacts_dir):
    """Trained once per test run: (ModelInfo, version_dir). With the shipped drift calibration when the
    run includes an integration test that may serve this model from the shared artifacts (the on-call
    ones page on its drift thresholds); otherwise calibrated on 10 held-out windows per detector
    and size, since the other tests need a model and a calibration file, not the calibration's precision."""
    from mlobs_services.vision import model

    live = any(item.get_closest_marker("integration") and "artifacts_dir" in item.fixturenames
               for item in request.session.items)
    info = model.train(artifacts_dir, progress=False, params=None if live else {"calibration_trials": 10})
    return info, artifacts_dir / "vision" / info.version
