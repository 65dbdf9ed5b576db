"""Keyed pseudonyms for subject ids: HMAC-SHA256 under a rotating keyring kept apart from the log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

import orjson

from mlobs.audit.files import private_dir, read_secret


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> bool:
    """Write a secret file readable by its owner only, atomically. With exclusive, never replace
    an existing file (two processes creating a key at once: the first one wins); returns whether
    this call wrote it."""
    private_dir(path.parent)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if not exclusive:
        os.replace(tmp, path)
        return True
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


class Keyring:
    """Several HMAC keys by id, one active. New pseudonyms use the active key;
    lookups by raw subject id try every key, so rotation never hides old records."""

    def __init__(self, keys: dict[str, bytes], active: str, path: Path | None = None) -> None:
        if active not in keys:
            raise ValueError(f"active pseudonym key {active!r} is not in the keyring")
        self._keys = dict(keys)
        self._keyed: dict[str, hmac.HMAC] = {}
        self.active = active
        self.path = path

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        path = Path(path)
        if path.exists():
            data = orjson.loads(read_secret(path))
            keys = {kid: base64.b64decode(k) for kid, k in data["keys"].items()}
            return cls(keys, data["active"], path)
        ring = cls({"k1": secrets.token_bytes(32)}, "k1", path)
        if not write_private(path, ring._dump(), exclusive=True):
            return cls.load_or_create(path)  # another process created it first
        return ring

    def _dump(self) -> bytes:
        data = {"active": self.active, "keys": {k: base64.b64encode(v).decode() for k, v in self._keys.items()}}
        return orjson.dumps(data, option=orjson.OPT_INDENT_2)

    def save(self) -> None:
        if self.path is not None:
            write_private(self.path, self._dump())

    def rotate(self) -> str:
        """Add a fresh key and make it active; old keys stay for lookups."""
        key_id = f"k{len(self._keys) + 1}"
        while key_id in self._keys:
            key_id += "x"
        self._keys[key_id] = secrets.token_bytes(32)
        self.active = key_id
        self.save()
        return key_id

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def pseudonym(self, subject: str, key_id: str | None = None) -> tuple[str, str]:
        """(key id, pseudonym) of a raw subject id."""
        key_id = key_id or self.active
        keyed = self._keyed.get(key_id)
        if keyed is None:  # copying a keyed HMAC is cheaper than keying a new one per call
            keyed = hmac.new(self._keys[key_id], digestmod=hashlib.sha256)
            # OpenSSL's HMAC object itself when hmac uses it: copy() without the Python wrapper.
            keyed = self._keyed[key_id] = getattr(keyed, "_hmac", None) or keyed
        mac = keyed.copy()
        mac.update(subject.encode("utf-8"))
        return key_id, mac.hexdigest()

    def all_pseudonyms(self, subject: str) -> list[str]:
        """The subject's pseudonym under every key: what a query or an erasure must match."""
        return [self.pseudonym(subject, kid)[1] for kid in self._keys]
