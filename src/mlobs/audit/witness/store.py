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
        return read_latest(self.dir)

    def notes_from(self, size: int, limit: int) -> list[str]:
        return read_notes_from(self.dir, size, limit)

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


# Far above one cosigned checkpoint (a note with a hundred cosignatures is about 12 KB).
MAX_LINE = 64 * 1024
_BLOCK = 4096


def read_notes(directory: Path) -> list[str]:
    """The cosigned checkpoints a witness directory holds, oldest first."""
    return [entry["note"] for entry in _entries(directory)]


def read_notes_from(directory: Path, size: int, limit: int) -> list[str]:
    """At most `limit` cosigned checkpoints of trees of `size` records or more, oldest first."""
    found = []
    for entry in _entries(directory):
        if entry["size"] >= size:
            found.append(entry["note"])
            if len(found) >= limit:
                break
    return found


def read_latest(directory: Path) -> str | None:
    """The newest cosigned checkpoint, read from the end of the file: the same few kilobytes
    whatever the length of the history (it grows by one line a poll)."""
    path = Path(directory) / COSIGNED
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return None
    with handle:
        end = pos = handle.seek(0, os.SEEK_END)
        tail = b""
        while pos > 0 and not (tail.strip() and b"\n" in tail.rstrip()):
            if end - pos > MAX_LINE:
                raise ValueError(f"{path}: its last line is over {MAX_LINE} bytes, not a cosigned checkpoint "
                                 "(the file was edited)")
            step = min(_BLOCK, pos)
            pos -= step
            handle.seek(pos)
            tail = handle.read(step) + tail
    line = tail.rstrip().rsplit(b"\n", 1)[-1]
    return _entry(line, f"{path}: its last line")["note"] if line.strip() else None


def _entries(directory: Path):
    path = Path(directory) / COSIGNED
    if not path.exists():
        return
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield _entry(line, f"{path} line {number}")


def _entry(line: bytes, where: str) -> dict:
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        entry = None
    if (not isinstance(entry, dict) or not isinstance(entry.get("note"), str)
            or not isinstance(entry.get("size"), int) or isinstance(entry.get("size"), bool)):
        raise ValueError(f"{where} is not a cosigned checkpoint (the file was edited)")
    return entry
