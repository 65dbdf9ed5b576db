"""Artifacts stay for the retention period after they leave service, so their decisions replay."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mlobs import artifact_retention, artifacts


def publish(root, content: bytes):
    staging = artifacts.Staging(root, "toy")
    (staging.path / "weights.bin").write_bytes(content)
    return staging.publish(data_hash="d1", params={}, code_revision="c1")


def test_an_upgrade_retires_the_previous_version_outside_its_directory(tmp_path):
    old = publish(tmp_path, b"old")
    before = artifacts.content_hash(tmp_path / "toy" / old.version)
    publish(tmp_path, b"new")
    assert list(artifact_retention.retired(tmp_path / "toy")) == [old.version]
    assert artifacts.content_hash(tmp_path / "toy" / old.version) == before  # what records name is unchanged


def test_a_retired_artifact_is_kept_for_25_months_then_pruned(tmp_path):
    old = publish(tmp_path, b"old")
    new = publish(tmp_path, b"new")
    retired_at = datetime.fromisoformat(artifact_retention.retired(tmp_path / "toy")[old.version])
    almost = retired_at + timedelta(days=760)
    assert artifact_retention.prune(tmp_path, now=almost) == []
    assert artifact_retention.prune(tmp_path, now=retired_at + timedelta(days=761)) == [tmp_path / "toy" / old.version]
    assert artifacts.version_dir(tmp_path, "toy").name == new.version


def test_the_latest_and_a_republished_version_are_never_pruned(tmp_path):
    first = publish(tmp_path, b"a")
    second = publish(tmp_path, b"b")
    publish(tmp_path, b"a")  # back to the first: in service again
    far = datetime.now(timezone.utc) + timedelta(days=10_000)
    assert artifact_retention.prune(tmp_path, now=far) == [tmp_path / "toy" / second.version]
    assert (tmp_path / "toy" / first.version).is_dir()
