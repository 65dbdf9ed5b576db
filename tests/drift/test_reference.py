from __future__ import annotations

import numpy as np
import pytest

from mlobs.drift.reference import load_reference, reference_dir, save_reference


def test_a_saved_reference_loads_back_with_its_arrays(tmp_path):
    probs = np.eye(3, dtype=np.float32)
    save_reference(
        tmp_path / "m" / "v1", probs=probs, texts=["a b", "c"], vocabulary=np.array(["a", "b"], dtype=object)
    )
    loaded = load_reference(tmp_path / "m" / "v1")
    assert np.array_equal(loaded["probs"], probs)
    assert loaded["texts"].tolist() == ["a b", "c"]
    assert loaded["vocabulary"].tolist() == ["a", "b"]


def test_loading_a_missing_reference_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match="reference.npz"):
        load_reference(tmp_path / "nothing")


def test_reference_dir_follows_the_artifact_convention_and_refuses_paths(tmp_path):
    assert reference_dir(tmp_path, "vision", "abc123") == tmp_path / "vision" / "abc123"
    with pytest.raises(ValueError):
        reference_dir(tmp_path, "vision", "../etc")
