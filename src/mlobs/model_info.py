"""What a model service tells the telemetry about the model it serves."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


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


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    training_data_hash: str
    code_revision: str
    classes: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data["classes"] = list(self.classes)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "ModelInfo":
        return cls(**{**data, "classes": tuple(data.get("classes", ()))})
