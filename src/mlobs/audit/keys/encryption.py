"""AES-256-GCM of a record's personal fields under its subject's key."""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_b64 = binascii.b2a_base64  # base64.b64encode without its wrapper: called twice per record


def encrypt(key: bytes | AESGCM, value: Any, aad: bytes, nonce: bytes | None = None) -> dict[str, str]:
    """AES-256-GCM of a JSON value, bound to its record by the associated data.
    A nonce, if given, must be 12 fresh random bytes (callers draw many at once)."""
    nonce = nonce or os.urandom(12)
    cipher = key if isinstance(key, AESGCM) else AESGCM(key)
    ct = cipher.encrypt(nonce, orjson.dumps(value), aad)
    return {"nonce": _b64(nonce, newline=False).decode(), "ct": _b64(ct, newline=False).decode()}


def decrypt(key: bytes, box: dict[str, str], aad: bytes) -> Any:
    nonce = base64.b64decode(box["nonce"])
    return orjson.loads(AESGCM(key).decrypt(nonce, base64.b64decode(box["ct"]), aad))
