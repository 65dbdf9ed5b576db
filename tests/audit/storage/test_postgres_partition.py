"""An audit log on a PostgreSQL server that stops answering (a network partition, a hung host): the
connection stays up and nothing comes back. Appends fail within their timeout and resume once the server
answers again, on fresh connections; verify ends with a reason instead of waiting for ever.
A real server behind a proxy that black-holes it."""

from __future__ import annotations

import argparse
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support.blackhole import SWALLOW, Blackhole

from audit.factories import decision
from mlobs.audit import AuditLog, AuditSettings, AuditUnavailable
from mlobs.audit.cli import register
from mlobs.pg_connect import connect
from mlobs.audit.storage.postgres_store import CHAIN_LOCK

pytestmark = pytest.mark.integration

STORE_TIMEOUT_S = 0.5
APPEND_TIMEOUT_S = 0.5


def test_appends_to_a_partitioned_store_fail_within_their_timeout_and_resume_on_fresh_connections_once_it_heals(
        pg_url, tmp_path):
    url = pg_url
    with Blackhole.before(url) as proxy:
        settings = AuditSettings(store_url=proxy.via(url), append_timeout_s=APPEND_TIMEOUT_S,
                                 store_timeout_s=STORE_TIMEOUT_S, checkpoint_every=1)
        log = AuditLog.open(settings.resolved(tmp_path))
        try:
            log.append(decision(0))
            proxy.partition()
            for i in (1, 2):
                started = time.monotonic()
                with pytest.raises(AuditUnavailable):
                    log.append(decision(i))
                assert time.monotonic() - started < APPEND_TIMEOUT_S + 0.5

            proxy.heal()
            deadline = time.monotonic() + 10
            while True:
                try:
                    log.append(decision(3))
                    break
                except AuditUnavailable:
                    assert time.monotonic() < deadline
            assert [r["output"] for r in log.query(limit=10)][-1] == {"score": 0.03}
        finally:
            log.close()
    report = AuditLog.open(AuditSettings(store_url=url).resolved(tmp_path), read_only=True)
    try:
        assert report.verify().ok
    finally:
        report.close()


@pytest.fixture
def cli(monkeypatch, tmp_path, pg_server):
    """`mlobs audit ...` in this process, on a log whose server accepts connections and never answers."""
    proxy = Blackhole(mode=SWALLOW)
    monkeypatch.setenv("MLOBS_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", proxy.via(pg_server))
    monkeypatch.setenv("MLOBS_AUDIT__STORE_TIMEOUT_S", "1")
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    yield lambda *argv: (args := parser.parse_args(["audit", *argv])).func(args)
    proxy.close()


def test_verify_on_a_server_that_never_answers_ends_within_the_store_timeout_saying_so(cli, tmp_path, capsys):
    key = tmp_path / "key.pub.pem"
    key.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    started = time.monotonic()
    assert cli("verify", "--public-key", str(key)) != 0
    assert time.monotonic() - started < 5
    assert "did not answer a connection within 2 s" in capsys.readouterr().err


def test_a_writer_partitioned_while_it_holds_the_chain_lock_keeps_other_writers_out_only_for_the_store_timeout(
        pg_url, tmp_path):
    """Another process of the deployment is cut off inside its transaction: the server never hears from it
    again, yet the lock its transaction took must not outlive the bound."""
    with Blackhole.before(pg_url) as proxy:
        settings = AuditSettings(store_url=pg_url, append_timeout_s=APPEND_TIMEOUT_S, store_timeout_s=STORE_TIMEOUT_S)
        log = AuditLog.open(settings.resolved(tmp_path))
        try:
            log.append(decision(0))
            other = connect(proxy.via(pg_url), STORE_TIMEOUT_S, autocommit=False)
            other.execute(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK})")  # inside its transaction
            proxy.partition()
            deadline = time.monotonic() + 10
            while True:
                try:
                    log.append(decision(1))
                    break
                except AuditUnavailable:
                    assert time.monotonic() < deadline, "the partitioned writer's lock outlived the store timeout"
            other.close()
        finally:
            log.close()
