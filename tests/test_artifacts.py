from __future__ import annotations

from mlobs import artifacts


def publish(root, content: bytes, params: dict):
    staging = artifacts.Staging(root, "toy")
    (staging.path / "weights.bin").write_bytes(content)
    return staging.publish(data_hash="d1", params=params, code_revision="c1", classes=["a", "b"])


def test_the_same_artifact_and_metadata_give_the_same_version(tmp_path):
    assert publish(tmp_path / "x", b"w", {"C": 1}).version == publish(tmp_path / "y", b"w", {"C": 1}).version


def test_a_change_in_artifact_or_parameters_gives_a_new_version(tmp_path):
    base = publish(tmp_path, b"w", {"C": 1}).version
    assert publish(tmp_path, b"w2", {"C": 1}).version != base
    assert publish(tmp_path, b"w", {"C": 2}).version != base


def test_latest_points_at_the_last_published_version(tmp_path):
    publish(tmp_path, b"old", {})
    new = publish(tmp_path, b"new", {})
    directory = artifacts.version_dir(tmp_path, "toy")
    assert directory.name == new.version
    assert artifacts.load_info(directory) == new
    assert not [p for p in (tmp_path / "toy").iterdir() if p.name.startswith(".staging")]


def test_a_missing_model_has_no_version_dir(tmp_path):
    assert artifacts.version_dir(tmp_path, "toy") is None
    assert artifacts.version_dir(tmp_path, "toy", "nope") is None


def test_a_training_that_fails_leaves_no_staging_directory_and_no_version(tmp_path):
    try:
        with artifacts.Staging(tmp_path, "toy") as staging:
            (staging.path / "weights.bin").write_bytes(b"half")
            raise RuntimeError("out of memory")
    except RuntimeError:
        pass
    assert list((tmp_path / "toy").iterdir()) == []
    assert artifacts.version_dir(tmp_path, "toy") is None


def test_require_says_how_to_train_a_missing_model(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="mlobs train toy"):
        artifacts.require(tmp_path, "toy")
