"""The witness's own store: its key, and every checkpoint it cosigned, in one append-only file.

    <dir>/witness_key.pem       the witness's Ed25519 private key (0600)
    <dir>/witness_key.pub.pem   its public key, for `--witness-key`
    <dir>/cosigned.jsonl        one {"size", "note"} object per cosigned checkpoint, in order
    <dir>/rotations.jsonl       the evidence of each key rotation of the log it followed, in order
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mlobs.audit.files import private_dir, private_file, read_secret
from mlobs.audit.keys.pseudonym import write_private
from mlobs.audit.keys.signing import public_key_pem

KEY = "witness_key.pem"
PUBLIC_KEY = "witness_key.pub.pem"
COSIGNED = "cosigned.jsonl"
ROTATIONS = "rotations.jsonl"


class WitnessStore:
    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.dir = private_dir(self.dir)
        path = self.dir / KEY
        if not path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            write_private(path, pem, exclusive=True)
        private = serialization.load_pem_private_key(read_secret(path), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        self.private = private
        (self.dir / PUBLIC_KEY).write_bytes(public_key_pem(private.public_key()))

    def notes(self) -> list[str]:
        return read_notes(self.dir)

    def latest(self) -> str | None:
        notes = self.notes()
        return notes[-1] if notes else None

    def keep(self, size: int, note: str) -> None:
        self._append(COSIGNED, {"size": size, "note": note})

    def keep_rotation(self, evidence: dict) -> None:
        self._append(ROTATIONS, evidence)

    def rotations(self) -> list[dict]:
        path = self.dir / ROTATIONS
        if not path.exists():
            return []
        found = []
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            try:
                found.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                raise ValueError(f"{path} line {number} is not key rotation evidence (the file was edited)") from None
        return found

    def _append(self, name: str, entry: dict) -> None:
        with open(private_file(self.dir / name), "ab") as handle:
            handle.write(orjson.dumps(entry) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())


def read_notes(directory: Path) -> list[str]:
    """The cosigned checkpoints a witness directory holds, oldest first."""
    path = Path(directory) / COSIGNED
    if not path.exists():
        return []
    notes = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            entry = None
        if not isinstance(entry, dict) or not isinstance(entry.get("note"), str):
            raise ValueError(f"{path} line {number} is not a cosigned checkpoint (the file was edited)")
        notes.append(entry["note"])
    return notes
