from __future__ import annotations

import numpy as np
import pytest

from mlobs.drift.reference import (
    REFERENCE_FILE,
    load_reference,
    reference_classes,
    reference_dir,
    reference_keys,
    save_reference,
)


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


def test_reference_keys_names_the_saved_arrays_and_nothing_for_a_missing_or_broken_file(tmp_path):
    save_reference(tmp_path / "v1", probs=np.eye(2), labels=np.array([0, 1]))
    assert reference_keys(tmp_path / "v1") == {"probs", "labels"}
    assert reference_keys(tmp_path / "absent") == set()
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / REFERENCE_FILE).write_bytes(b"not a zip archive")
    assert reference_keys(tmp_path / "v2") == set()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_reference_classes_reads_the_outputs_columns_and_nothing_where_there_are_none(tmp_path, dtype):
    save_reference(tmp_path / "v1", probs=np.full((50, 7), 1 / 7, dtype=dtype))
    assert reference_classes(tmp_path / "v1") == 7
    save_reference(tmp_path / "v2", texts=np.array(["a"]))
    save_reference(tmp_path / "v3", probs=np.ones(3, dtype=dtype))
    assert [reference_classes(tmp_path / v) for v in ("v2", "v3", "absent")] == [None, None, None]
    (tmp_path / "v4").mkdir()
    (tmp_path / "v4" / REFERENCE_FILE).write_bytes(b"not a zip archive")
    assert reference_classes(tmp_path / "v4") is None
