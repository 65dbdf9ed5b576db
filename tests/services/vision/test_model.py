from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from mlobs.artifacts import sha256_file
from mlobs.drift.reference import load_reference
from mlobs_services.vision import model


def test_training_reaches_97_percent_held_out_accuracy(vision_model):
    metadata, _ = vision_model
    assert metadata.metrics["held_out_accuracy"] >= 0.97
    assert metadata.name == "vision" and len(metadata.classes) == 10


def test_the_version_directory_holds_the_artifact_metadata_and_drift_reference(vision_model, artifacts_dir):
    metadata, version_dir = vision_model
    assert {"model.pt", "metadata.json", "reference.npz", "holdout.npz"} <= {p.name for p in version_dir.iterdir()}
    assert model.latest_version_dir(artifacts_dir) == version_dir
    reference = load_reference(version_dir)
    assert reference["images"].shape[1:] == (1, 28, 28)
    assert reference["probs"].shape == (len(reference["images"]), 10)
    assert np.allclose(reference["probs"].sum(axis=1), 1.0, atol=1e-5)


def test_reference_and_holdout_pools_are_disjoint_from_training_and_each_other():
    parts = model.split(1797, 0, model.PARAMS["n_train"], model.PARAMS["n_reference"])
    train, ref, hold = (set(parts[k].tolist()) for k in ("train", "reference", "holdout"))
    assert not (train & ref) and not (train & hold) and not (ref & hold)
    assert len(train | ref | hold) == 1797


def test_a_loaded_model_predicts_like_the_reference_it_was_saved_with(vision_model):
    _, version_dir = vision_model
    net, info = model.load(version_dir)
    reference = load_reference(version_dir)
    probs = model.predict_proba(net, torch.from_numpy(reference["images"][:20]))
    assert np.allclose(probs, reference["probs"][:20], atol=1e-5)
    assert info.version == version_dir.name


def test_preprocess_turns_any_pil_image_into_a_normalised_28x28_tensor():
    from PIL import Image

    image = Image.new("RGB", (64, 40), (255, 255, 255))
    tensor = model.preprocess(image)
    assert tuple(tensor.shape) == (1, 28, 28)
    assert float(tensor.max()) == 1.0 and float(tensor.min()) == 1.0


@pytest.mark.slow
def test_training_twice_in_separate_processes_gives_identical_bytes(vision_model, tmp_path):
    metadata, version_dir = vision_model
    code = f"from mlobs_services.vision import model; model.train({str(tmp_path)!r}, params={metadata.params!r})"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=300)
    other = tmp_path / "vision" / metadata.version
    assert other.is_dir(), "the same code and data gave another version"
    assert sha256_file(other / "model.pt") == sha256_file(version_dir / "model.pt")
    assert (other / "metadata.json").read_bytes() == (version_dir / "metadata.json").read_bytes()


