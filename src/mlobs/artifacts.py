"""Versioned model artifacts: {artifacts_dir}/{model}/{version}/ plus a LATEST pointer.

The version is a content hash of the artifact files and the training metadata
(data hash, parameters, code revision), so the same inputs give the same version.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from mlobs import artifact_retention
from mlobs.model_info import ModelInfo

METADATA = "metadata.json"
LATEST = "LATEST"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def model_version(artifact_sha256: str, data_hash: str, params: dict, code_revision: str) -> str:
    """A content hash: the same artifact, data, parameters and code give the same version."""
    payload = canonical_json(
        {"artifact": artifact_sha256, "data": data_hash, "params": params, "code": code_revision}
    )
    return hashlib.sha256(payload).hexdigest()[:12]


def source_revision(*modules: ModuleType) -> str:
    """The code revision of a model: a hash of the source files that trained it."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:12]


def content_hash(directory: Path) -> str:
    """SHA-256 over an artifact's files (names and contents, metadata aside): what an audit record
    names, so that replay can tell the exact artifact from any other with the same version."""
    return _files_hash(Path(directory))


def _files_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.iterdir() if p.is_file() and p.name != METADATA):
        digest.update(path.name.encode() + b"\0" + sha256_file(path).encode() + b"\0")
    return digest.hexdigest()


class Staging:
    """A directory to write a new artifact into; `publish` names it by its content."""

    def __init__(self, artifacts_dir: Path, name: str):
        self.root = Path(artifacts_dir) / name
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))

    def publish(self, *, data_hash: str, params: dict, code_revision: str,
                classes=(), metrics: dict | None = None) -> ModelInfo:
        version = model_version(_files_hash(self.path), data_hash, params, code_revision)
        info = ModelInfo(self.root.name, version, data_hash, code_revision, tuple(classes), params, metrics or {})
        (self.path / METADATA).write_text(json.dumps(info.to_json(), indent=2, sort_keys=True) + "\n")
        target = self.root / version
        if target.exists():
            shutil.rmtree(self.path)  # the same inputs were trained before: same version, same files
        else:
            os.replace(self.path, target)
        latest = self.root / LATEST
        previous = latest.read_text().strip() if latest.exists() else None
        _write_atomic(latest, version + "\n")
        if previous and previous != version:  # its decisions end now: kept for the retention period
            artifact_retention.retire(self.root, previous)
        artifact_retention.reinstate(self.root, version)
        return info

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or self.path.exists():  # failed, or never published
            self.discard()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def version_dir(artifacts_dir: Path, name: str, version: str | None = None) -> Path | None:
    """The directory of `version` (default: the latest published), or None if there is none."""
    root = Path(artifacts_dir) / name
    if version is None:
        latest = root / LATEST
        if not latest.exists():
            return None
        version = latest.read_text().strip()
    directory = root / version
    return directory if (directory / METADATA).exists() else None


def require(artifacts_dir: Path, name: str) -> tuple[Path, ModelInfo]:
    """The latest published version of `name` and its info, or an error saying how to make one."""
    directory = version_dir(artifacts_dir, name)
    if directory is None:
        raise FileNotFoundError(f"no {name} model in {artifacts_dir}; run `mlobs train {name}`")
    return directory, load_info(directory)


def load_info(directory: Path) -> ModelInfo:
    return ModelInfo.from_json(json.loads((Path(directory) / METADATA).read_text()))
