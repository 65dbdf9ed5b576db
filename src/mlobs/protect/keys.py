"""API keys per client, stored only as SHA-256 hashes. A presented key is hashed and looked up."""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path

from mlobs.protect.client import ANONYMOUS
from mlobs.protect.roles import LABELLER, ROLES
from mlobs.protect.settings import ProtectSettings

__all__ = ["ANONYMOUS", "LABELLER", "ROLES", "ApiKeys", "hash_key", "new_key", "presented_key", "presented_keys",
           "read_keys_file"]
UNKNOWN = "unknown"
MAX_KEY_CHARS = 256
_HASH = re.compile(r"^[0-9a-f]{64}$")
_CLIENT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Keys are random 256-bit tokens, so a fast hash is enough: no dictionary to defend against.


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return "mlobs_" + secrets.token_urlsafe(32)


class ApiKeys:
    def __init__(self, hashes: dict[str, str]):
        """`hashes`: client_id -> sha256 hex of its key."""
        self._by_hash: dict[bytes, str] = {}
        for client, digest in hashes.items():
            digest = digest.strip().lower()
            if not _CLIENT.match(client):
                raise ValueError(f"invalid client id {client!r}: letters, digits, _.- only, at most 64")
            if not _HASH.match(digest):
                raise ValueError(f"client {client}: the key must be given as a SHA-256 hex digest, not in clear")
            self._by_hash[bytes.fromhex(digest)] = client
        self.clients = tuple(sorted(set(self._by_hash.values())))

    def __bool__(self) -> bool:
        return bool(self._by_hash)

    def client_for(self, key: str) -> str | None:
        # The lookup compares hashes, which the caller cannot steer byte by byte: no timing oracle on the key.
        return self._by_hash.get(hashlib.sha256(key.encode("utf-8")).digest())

    @classmethod
    def from_settings(cls, settings: ProtectSettings) -> ApiKeys:
        hashes = dict(settings.api_keys)
        if settings.api_keys_file is not None:
            hashes.update(read_keys_file(settings.api_keys_file))
        return cls(hashes)


def read_keys_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        client, sep, digest = line.partition(":")
        if not sep:
            raise ValueError(f"{path}:{number}: expected `client_id: sha256hex`")
        out[client.strip()] = digest.strip()
    return out


def presented_keys(headers: list[tuple[bytes, bytes]]) -> tuple[list[str], str | None]:
    """Every key the request presents (`Authorization: Bearer`, `X-API-Key`, each as often as sent),
    and the failure reason to give if none of them is valid: "missing" when no credential at all,
    "malformed" when only unusable ones (another scheme such as Basic, an empty or overlong token)."""
    keys: list[str] = []
    malformed = False
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            key = _checked(token.strip()) if scheme.lower() == b"bearer" else None
        elif name == b"x-api-key":
            key = _checked(value.strip())
        else:
            continue
        if key is None:
            malformed = True
        else:
            keys.append(key)
    return keys, None if keys else ("malformed" if malformed else "missing")


def presented_key(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    """(first key, None) or (None, failure reason); see presented_keys()."""
    keys, reason = presented_keys(headers)
    return (keys[0], None) if keys else (None, reason)


def _checked(raw: bytes) -> str | None:
    if not raw or len(raw) > MAX_KEY_CHARS:
        return None
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return None
