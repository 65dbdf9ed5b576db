"""The library's bounded PostgreSQL connection against a real server behind a proxy that can make it stop
answering: an exchange fails within its bound with the library's own error, and a session connects afresh,
with its settings, once the server answers again."""

from __future__ import annotations

import time

import pytest
from support.blackhole import Blackhole
from support.postgres import pg_schema_url

from mlobs.audit.errors import AuditError
from mlobs.pg_connect import ServerNotAnswering, Session, connect

pytestmark = pytest.mark.integration

BOUND_S = 0.5


def test_a_connection_whose_server_stops_answering_fails_within_its_bound_and_is_replaced_with_its_settings(
        pg_server):
    url = pg_schema_url(pg_server)
    with Blackhole.before(url) as proxy:
        session = Session(proxy.via(url), BOUND_S, settings={"lock_timeout": 1234})
        try:
            caught = session.conn()
            assert caught.execute("SELECT 1").fetchone() == (1,)
            proxy.partition()
            started = time.monotonic()
            with pytest.raises(ServerNotAnswering) as failed:
                caught.execute("SELECT 1")
            assert time.monotonic() - started < BOUND_S + 1
            assert not isinstance(failed.value, AuditError)  # the library's error, no other part's
            assert caught.closed  # dropped, so the session's next use connects afresh
            proxy.heal()
            assert session.conn().execute("SHOW lock_timeout").fetchone() == ("1234ms",)
        finally:
            session.close()


def test_a_setting_given_to_connect_wins_over_the_one_the_url_sets(pg_server):
    schema_url = pg_schema_url(pg_server)
    with connect(schema_url + "%20-clock_timeout%3D5000", BOUND_S, settings={"lock_timeout": 300}) as conn:
        assert conn.execute("SHOW lock_timeout").fetchone() == ("300ms",)
        assert conn.execute("SHOW search_path").fetchone() == (schema_url.rsplit("%3D", 1)[1],)  # the URL's others kept
