"""The audit log's PostgreSQL connections are the library's bounded ones, failing the audit's own way: a
server that stops answering is an AuditError (the audit HTTP API's 503, replay's reason), never a bare
database error that would escape as a 500."""

from __future__ import annotations

import pytest
from support.blackhole import Blackhole

from mlobs.audit.errors import AuditError
from mlobs.audit.storage.pg_bounded import Session, StoreNotAnswering
from mlobs.pg_connect import ServerNotAnswering

pytestmark = pytest.mark.integration


def test_an_audit_connection_whose_server_stops_answering_fails_with_an_audit_error(pg_url):
    with Blackhole.before(pg_url) as proxy:
        session = Session(proxy.via(pg_url), 0.5)
        try:
            session.conn().execute("SELECT 1")
            proxy.partition()
            with pytest.raises(AuditError) as failed:
                session.conn().execute("SELECT 1")
            assert isinstance(failed.value, StoreNotAnswering)
            assert isinstance(failed.value, ServerNotAnswering)  # and still the library's, for what catches that
        finally:
            session.close()
