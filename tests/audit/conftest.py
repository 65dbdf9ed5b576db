"""Fixtures: a fixed clock, an audit log on each backend, and a real PostgreSQL server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from support.postgres import pg_schema_url

from mlobs.audit import AuditLog, AuditSettings


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh schema on the PostgreSQL server this test run started."""
    return pg_schema_url(pg_server)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def backend(request) -> str:
    return request.param


@pytest.fixture
def store_url(backend, tmp_path, request) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    return pg_schema_url(request.getfixturevalue("pg_server"))


@pytest.fixture
def audit_settings(store_url, tmp_path) -> AuditSettings:
    return AuditSettings(store_url=store_url, checkpoint_every=10).resolved(tmp_path)


@pytest.fixture
def make_log(audit_settings, clock):
    """Open logs on the test's store; closed at the end."""
    opened: list[AuditLog] = []

    def make(**overrides) -> AuditLog:
        log = AuditLog.open(audit_settings.model_copy(update=overrides), clock=clock)
        opened.append(log)
        return log

    yield make
    for log in opened:
        try:
            log.close()
        except Exception:
            pass


@pytest.fixture
def log(make_log) -> AuditLog:
    return make_log()
