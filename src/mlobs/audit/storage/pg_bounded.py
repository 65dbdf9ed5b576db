"""The library's bounded PostgreSQL connections (mlobs.pg_connect) as the audit log holds them: a server
that does not answer in time fails with `StoreNotAnswering`, an AuditError, as every audit error is."""

from __future__ import annotations

from mlobs import pg_connect
from mlobs.audit.errors import AuditError

DEFAULT_TIMEOUT_S = pg_connect.DEFAULT_TIMEOUT_S
# A verifier's statements may each scan the whole log (its row checks do): a far longer bound on each
# exchange, still one that ends a verification whose server stopped answering.
VERIFY_TIMEOUT_S = 600.0


class StoreNotAnswering(pg_connect.ServerNotAnswering, AuditError):
    """The audit log's PostgreSQL server did not answer in time (a connection, or an exchange on one)."""


def connect(url: str, timeout_s: float = DEFAULT_TIMEOUT_S, **kwargs) -> pg_connect.BoundedConnection:
    """`mlobs.pg_connect.connect`, failing with StoreNotAnswering."""
    return pg_connect.connect(url, timeout_s, error=StoreNotAnswering, **kwargs)


class Session(pg_connect.Session):
    error = StoreNotAnswering
