"""Ed25519-signed checkpoints: (seq, hash) statements that a rewritten chain cannot match."""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mlobs.audit.files import private_file, read_secret
from mlobs.audit.keys.pseudonym import write_private


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    ts: str
    key_id: str
    signature: str

    def signed_bytes(self) -> bytes:
        return checkpoint_message(self.seq, self.hash, self.ts, self.key_id)

    def to_dict(self) -> dict:
        return asdict(self)


def checkpoint_message(seq: int, hash_: str, ts: str, key_id: str) -> bytes:
    return orjson.dumps(["mlobs-audit-checkpoint-v1", seq, hash_, ts, key_id])


def public_key_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


class Signer:
    """The checkpoint signing key (private, kept apart from the log) and its published public key."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id_of(self.public)

    @classmethod
    def load_or_create(cls, keys_dir: Path) -> Signer:
        keys_dir = Path(keys_dir)
        path = keys_dir / "checkpoint_signing.pem"
        if not path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            write_private(path, pem, exclusive=True)  # if another process won, use its key
        private = serialization.load_pem_private_key(read_secret(path), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        signer = cls(private)
        write_private(keys_dir / "checkpoint_signing.pub.pem", public_key_pem(signer.public))
        return signer

    def private_key(self) -> Ed25519PrivateKey:
        """For the tree heads (mlobs.audit.tree_log), signed with the same key."""
        return self._private

    def sign(self, seq: int, hash_: str, ts: str) -> Checkpoint:
        signature = self._private.sign(checkpoint_message(seq, hash_, ts, self.key_id)).hex()
        return Checkpoint(seq, hash_, ts, self.key_id, signature)


def signature_ok(checkpoint: Checkpoint, public_keys: Iterable[Ed25519PublicKey]) -> bool:
    for public in public_keys:
        if key_id_of(public) != checkpoint.key_id:
            continue
        try:
            public.verify(bytes.fromhex(checkpoint.signature), checkpoint.signed_bytes())
            return True
        except (InvalidSignature, ValueError):
            return False
    return False


def read_checkpoint_file(path: Path) -> list[Checkpoint]:
    """Checkpoints kept outside the store, one JSON object per line; ValueError naming the first line
    that is not one (a file that cannot be read must not pass as a file with nothing in it)."""
    out = []
    for number, line in enumerate(Path(path).read_bytes().splitlines(), 1):
        if line.strip():
            try:
                out.append(Checkpoint(**orjson.loads(line)))
            except (orjson.JSONDecodeError, TypeError):
                raise ValueError(f"{path} line {number} is not a signed checkpoint") from None
    return out


def append_checkpoint_file(path: Path, checkpoint: Checkpoint) -> None:
    with open(private_file(Path(path)), "ab") as handle:
        handle.write(orjson.dumps(checkpoint.to_dict()) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
