"""Which models the native stack trains before it starts."""

from __future__ import annotations

import json

import numpy as np

from mlobs.drift.calibration import CALIBRATION_FILE
from mlobs.drift.reference import save_reference
from mlobs.local.stack import needs_training


def publish(artifacts_dir, model: str, version: str, *files: str) -> None:
    directory = artifacts_dir / model / version
    directory.mkdir(parents=True)
    (directory / "metadata.json").write_text(json.dumps({"name": model, "version": version}))
    for name in files:
        (directory / name).write_text("{}")
    (artifacts_dir / model / "LATEST").write_text(version)


def test_a_model_with_no_published_version_is_trained(tmp_path):
    assert needs_training(tmp_path, "sentiment")


def test_a_version_made_before_drift_calibration_is_trained_again(tmp_path):
    publish(tmp_path, "sentiment", "0ld", "model.joblib", "reference.npz")
    assert needs_training(tmp_path, "sentiment")


def test_a_calibrated_version_is_used_as_it_is(tmp_path):
    publish(tmp_path, "sentiment", "c4l", "model.joblib", "reference.npz", CALIBRATION_FILE)
    assert not needs_training(tmp_path, "sentiment")


def test_a_version_whose_reference_has_outputs_but_no_held_out_labels_is_trained_again(tmp_path):
    publish(tmp_path, "credit", "n0l4b", "model.joblib", CALIBRATION_FILE)
    save_reference(tmp_path / "credit" / "n0l4b", probs=np.full((10, 2), 0.5), numeric=np.zeros((10, 1)))
    assert needs_training(tmp_path, "credit")


def test_a_version_whose_reference_has_held_out_labels_is_used_as_it_is(tmp_path):
    publish(tmp_path, "credit", "l4b", "model.joblib", CALIBRATION_FILE)
    save_reference(tmp_path / "credit" / "l4b", probs=np.full((10, 2), 0.5), labels=np.zeros(10, dtype=int))
    assert not needs_training(tmp_path, "credit")
