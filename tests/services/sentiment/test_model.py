from __future__ import annotations

import json

import pytest
from support.training import train_in_fresh_processes

from mlobs import artifacts
from mlobs_services.sentiment import model


def test_training_reports_held_out_accuracy(sentiment_model):
    assert sentiment_model.metrics["held_out_examples"] >= 200
    assert 0.8 <= sentiment_model.metrics["held_out_accuracy"] <= 1.0


def test_training_publishes_a_versioned_artifact_as_latest(artifacts_dir, sentiment_model):
    directory = artifacts.version_dir(artifacts_dir, "sentiment")
    assert directory.name == sentiment_model.version
    assert artifacts.load_info(directory) == sentiment_model
    assert list(model.load(directory).classes_) == ["negative", "neutral", "positive"]


@pytest.mark.slow
def test_training_twice_in_fresh_processes_gives_the_same_version(tmp_path, sentiment_model):
    versions = train_in_fresh_processes("sentiment", tmp_path)
    assert versions == [sentiment_model.version] * 2
    metadata = json.loads((tmp_path / "1" / "sentiment" / versions[0] / "metadata.json").read_text())
    assert metadata["training_data_hash"] == sentiment_model.training_data_hash
