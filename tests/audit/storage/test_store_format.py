"""Every audit log says which format it is, and a log this version cannot read is refused by name,
by the writer and by every command, and left exactly as it was: a deployment rolled back to an older
mlobs, or a store URL pointed at another program's database, must not write onto it."""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import struct

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.factories import decision
from mlobs.audit import AuditLog, AuditSettings
from mlobs.audit.cli import register
from mlobs.audit.storage.store_format import UnknownStoreFormat

GEOPACKAGE = 0x47504B47  # a real SQLite application id ("GPKG"), of another program


def header_marks(path) -> tuple[int, int]:
    """(user version, application id), read from the database header's bytes as the file format has them."""
    header = path.read_bytes()[:100]
    return struct.unpack(">I", header[60:64])[0], struct.unpack(">I", header[68:72])[0]


def some_public_key(tmp_path) -> str:
    path = tmp_path / "key.pub.pem"
    path.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return str(path)


def files_of(directory) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir() if p.is_file()}


def unchanged(directory, before: dict[str, str]) -> bool:
    """Every file as it was; new ones only what any SQLite reader of a WAL database leaves: an empty
    WAL and its shared-memory index."""
    after = files_of(directory)
    new = set(after) - set(before)
    return ({name: after.get(name) for name in before} == before and new <= {"audit.db-wal", "audit.db-shm"}
            and all((directory / name).stat().st_size == 0 for name in new if name.endswith("-wal")))


@pytest.fixture
def settings(tmp_path) -> AuditSettings:
    return AuditSettings(store_url=f"sqlite:///{tmp_path / 'log' / 'audit.db'}", checkpoint_every=5).resolved(tmp_path)


def write_log(settings, n: int = 6) -> None:
    log = AuditLog.open(settings)
    for i in range(n):
        log.append(decision(i))
    log.close()


def set_marks(path, *, version: int, application_id: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(f"PRAGMA application_id = {application_id}")
    conn.close()


@pytest.fixture
def cli(monkeypatch, tmp_path, settings):
    monkeypatch.setenv("MLOBS_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", settings.store_url)
    monkeypatch.setenv("MLOBS_AUDIT__KEYS_DIR", str(settings.keys_dir))
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> int:
        args = parser.parse_args(["audit", *argv])
        return args.func(args)

    return run


def test_a_new_log_says_in_its_sqlite_header_that_it_is_an_mlobs_audit_log_of_format_1(settings, tmp_path):
    write_log(settings)
    assert header_marks(tmp_path / "log" / "audit.db") == (1, 0x6D6C6F62)


def test_a_log_made_before_logs_carried_their_format_is_marked_when_next_written_and_still_verifies(
        settings, tmp_path, cli, capsys):
    path = tmp_path / "log" / "audit.db"
    write_log(settings)
    set_marks(path, version=0, application_id=0)
    assert cli("verify", "--public-key", str(settings.keys_dir / "checkpoint_signing.pub.pem")) == 0

    write_log(settings)

    assert header_marks(path) == (1, 0x6D6C6F62)
    assert cli("verify", "--public-key", str(settings.keys_dir / "checkpoint_signing.pub.pem")) == 0
    assert "OK" in capsys.readouterr().out


def test_a_log_of_a_newer_format_is_refused_by_the_writer_and_left_byte_for_byte_as_it_was(settings, tmp_path):
    path = tmp_path / "log" / "audit.db"
    write_log(settings)
    set_marks(path, version=2, application_id=0x6D6C6F62)
    path.chmod(0o640)
    before = files_of(path.parent)

    with pytest.raises(UnknownStoreFormat, match="format 2, written by a newer mlobs"):
        AuditLog.open(settings)

    assert unchanged(path.parent, before)
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("command", [
    ("verify", "--public-key", "KEY"), ("query", "--limit", "1"), ("export", "OUT"),
    ("prove", "0" * 32, "--out", "OUT"), ("forget", "alice"), ("purge",), ("replay", "--sample", "2"),
    ("raw", "--decision-id", "0" * 32, "--reason", "audit"), ("checkpoint",),
])
def test_every_audit_command_refuses_a_log_of_a_newer_format_naming_it(settings, tmp_path, cli, capsys, command):
    path = tmp_path / "log" / "audit.db"
    write_log(settings)
    set_marks(path, version=7, application_id=0x6D6C6F62)
    before = files_of(path.parent)
    argv = [str(settings.keys_dir / "checkpoint_signing.pub.pem") if a == "KEY" else
            str(tmp_path / "out") if a == "OUT" else a for a in command]

    assert cli(*argv) != 0

    assert "format 7, written by a newer mlobs" in capsys.readouterr().err
    assert unchanged(path.parent, before)


def another_programs_database(path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA application_id = {GEOPACKAGE}")
    conn.execute("CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT)")
    conn.execute("INSERT INTO gpkg_contents VALUES ('roads', 'features')")
    conn.close()


def test_another_programs_sqlite_database_is_refused_and_left_untouched_mode_and_journal_included(
        settings, tmp_path, cli, capsys):
    path = tmp_path / "log" / "audit.db"
    path.parent.mkdir(mode=0o755)
    another_programs_database(path)
    path.chmod(0o644)
    before = files_of(path.parent)

    with pytest.raises(UnknownStoreFormat, match="not an mlobs audit log: its SQLite application id is 0x47504b47"):
        AuditLog.open(settings)
    assert cli("verify", "--public-key", some_public_key(tmp_path)) != 0

    assert "not an mlobs audit log" in capsys.readouterr().err
    assert unchanged(path.parent, before)
    assert path.stat().st_mode & 0o777 == 0o644
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("gpkg_contents",), (
        "sqlite_autoindex_gpkg_contents_1",)]


def test_a_table_named_audit_records_of_other_columns_fails_verify_with_a_message_naming_them(
        tmp_path, cli, capsys):
    path = tmp_path / "log" / "audit.db"
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE audit_records (seq INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO audit_records VALUES (1, 'x')")
    conn.commit()
    conn.close()

    assert cli("verify", str(path), "--public-key", some_public_key(tmp_path)) == 1

    err = capsys.readouterr().err
    assert "audit_records table has the columns seq, body" in err
    assert "Traceback" not in err


def pg_settings(pg_url, tmp_path) -> AuditSettings:
    return AuditSettings(store_url=pg_url, checkpoint_every=5).resolved(tmp_path)


def pg_execute(url: str, sql: str):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql).fetchall() if sql.lstrip().upper().startswith("SELECT") else conn.execute(sql)


@pytest.mark.integration
def test_a_postgres_log_of_a_newer_format_is_refused_by_the_writer_and_by_verify(pg_url, tmp_path, monkeypatch,
                                                                                capsys):
    settings = pg_settings(pg_url, tmp_path)
    write_log(settings)
    assert pg_execute(pg_url, "SELECT format FROM audit_store") == [(1,)]
    pg_execute(pg_url, "UPDATE audit_store SET format = 3")
    count = pg_execute(pg_url, "SELECT count(*) FROM audit_records")

    with pytest.raises(UnknownStoreFormat, match="format 3, written by a newer mlobs"):
        AuditLog.open(settings)
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", pg_url)
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", "verify", "--public-key", str(settings.keys_dir / "checkpoint_signing.pub.pem")])

    assert args.func(args) == 1
    assert "format 3, written by a newer mlobs" in capsys.readouterr().err
    assert pg_execute(pg_url, "SELECT count(*) FROM audit_records") == count


@pytest.mark.integration
def test_a_postgres_log_made_before_logs_carried_their_format_is_marked_when_next_written_and_still_verifies(
        pg_url, tmp_path):
    from mlobs.audit.keys.signing import load_public_key
    from mlobs.audit.verification.trust_verify import verify_log

    settings = pg_settings(pg_url, tmp_path)
    write_log(settings)
    pg_execute(pg_url, "DROP TABLE audit_store")

    write_log(settings)

    assert pg_execute(pg_url, "SELECT format FROM audit_store") == [(1,)]
    report = verify_log(pg_url, load_public_key(settings.keys_dir / "checkpoint_signing.pub.pem"))
    assert report.ok, report.text()
    assert report.head_seq == 12


def test_another_programs_sqlite_database_that_never_set_an_application_id_is_refused_and_left_untouched(
        settings, tmp_path, cli, capsys):
    """Most programs leave the application id at 0: their tables, not the header, say the file is theirs."""
    path = tmp_path / "log" / "audit.db"
    path.parent.mkdir()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
    conn.execute("INSERT INTO users VALUES (1, 'a@example.org')")
    conn.close()
    before = files_of(path.parent)

    with pytest.raises(UnknownStoreFormat, match="not an mlobs audit log: it holds the tables users and no "
                                                 "audit_records"):
        AuditLog.open(settings)
    assert cli("verify", "--public-key", some_public_key(tmp_path)) != 0

    assert "not an mlobs audit log" in capsys.readouterr().err
    assert unchanged(path.parent, before)
    assert header_marks(path) == (0, 0)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert [row[0] for row in conn.execute("SELECT name FROM sqlite_master")] == ["users"]


def fail_the_second_header_mark(monkeypatch) -> None:
    """Every new SQLite connection fails the second of the two header marks it writes, as an I/O error
    or a full disk would between two writes."""
    connect = sqlite3.connect

    def failing(*args, **kwargs):
        conn = connect(*args, **kwargs)
        marks = []

        def authorize(action, name, value, *_):
            if action == sqlite3.SQLITE_PRAGMA and name in ("application_id", "user_version") and value is not None:
                marks.append(name)
                if len(marks) == 2:
                    return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK
        conn.set_authorizer(authorize)
        return conn
    monkeypatch.setattr(sqlite3, "connect", failing)


@pytest.mark.parametrize("legacy", [False, True], ids=["new log", "log made before logs carried their format"])
def test_a_log_whose_marking_failed_halfway_opens_again_and_is_marked_then(settings, tmp_path, monkeypatch, legacy):
    path = tmp_path / "log" / "audit.db"
    if legacy:
        write_log(settings)
        set_marks(path, version=0, application_id=0)
    path.parent.mkdir(exist_ok=True)
    with monkeypatch.context() as patched:
        fail_the_second_header_mark(patched)
        with pytest.raises(sqlite3.DatabaseError):
            AuditLog.open(settings)

    write_log(settings)

    assert header_marks(path) == (1, 0x6D6C6F62)
    with AuditLog.open(settings) as log:
        assert log.verify().ok


@pytest.mark.integration
def test_verify_of_a_postgres_schema_holding_no_log_never_reports_on_another_log_later_on_its_search_path(
        pg_url, pg_server, tmp_path, capsys):
    """A schema per log, with a shared schema after it on the search path (`search_path=credit,public`):
    the writer creates its tables in the first schema, so that is the only place verify may read."""
    import psycopg

    settings = pg_settings(pg_url, tmp_path)
    write_log(settings)
    shared = pg_url.rsplit("%3D", 1)[1]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {shared}_empty")
    url = f"{pg_server}?options=-csearch_path%3D{shared}_empty,{shared}"
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", "verify", url, "--public-key",
                              str(settings.keys_dir / "checkpoint_signing.pub.pem")])

    assert args.func(args) != 0

    assert "holds no audit log" in capsys.readouterr().err


OPENER = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from audit.factories import decision
from mlobs.audit import AuditLog, AuditSettings
base, me = Path(sys.argv[1]), int(sys.argv[2])
while not (base / "go").exists():
    time.sleep(0.001)
settings = AuditSettings(store_url=f"sqlite:///{base / 'audit.db'}", keys_dir=base / "keys").resolved(base)
with AuditLog.open(settings) as log:
    for i in range(5):
        log.append(decision(100 * me + i, subject=f"p{me}-{i}"))
"""


@pytest.mark.slow  # fresh interpreters
def test_processes_opening_a_new_log_at_the_same_moment_all_write_to_one_marked_log(tmp_path):
    import subprocess
    import sys
    import time
    from pathlib import Path

    tests = str(Path(__file__).parents[2])
    keys = AuditSettings(store_url=f"sqlite:///{tmp_path / 'keys-only.db'}", keys_dir=tmp_path / "keys")
    AuditLog.open(keys.resolved(tmp_path)).close()  # the keys exist: what races here is the log's creation
    openers = [subprocess.Popen([sys.executable, "-c", OPENER, str(tmp_path), str(k), tests],
                                stderr=subprocess.PIPE, text=True) for k in range(3)]
    time.sleep(2)  # every interpreter started and waiting
    (tmp_path / "go").touch()
    errors = [p.communicate(timeout=60)[1] for p in openers]

    assert [p.returncode for p in openers] == [0, 0, 0], errors
    assert header_marks(tmp_path / "audit.db") == (1, 0x6D6C6F62)
    settings = AuditSettings(store_url=f"sqlite:///{tmp_path / 'audit.db'}", keys_dir=tmp_path / "keys")
    with AuditLog.open(settings.resolved(tmp_path)) as log:
        assert log.verify().ok
        assert len(log.query(event_type="decision")) == 15
