"""Shared bearer tokens of the internal endpoints: the drift exporter's ingest, the on-call receiver's
alerts and the audit log's witness endpoints each take requests only with theirs, when one is set."""

from __future__ import annotations

import secrets

from pydantic import SecretStr


def expected_bearer(token: SecretStr | None) -> bytes | None:
    """The Authorization header a request must carry, or None when no token is set."""
    return f"Bearer {token.get_secret_value()}".encode() if token is not None else None


def bearer_matches(authorization: str | None, expected: bytes) -> bool:
    """Whether the request's Authorization header is `expected`, compared in constant time."""
    return secrets.compare_digest((authorization or "").encode(), expected)
