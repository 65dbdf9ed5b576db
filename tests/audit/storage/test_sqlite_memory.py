"""SQLite's own memory in a process that reads its whole audit log: the readers' page caches stay small."""

from __future__ import annotations

import ctypes
import sqlite3
from pathlib import Path

import pytest

from audit.factories import decision
from mlobs.audit import AuditLog
from mlobs.audit.settings import AuditSettings

MIB = 2**20


def sqlite_memory():
    """SQLite's allocator counter, when this Python's sqlite3 module uses the system libsqlite3 (else None)."""
    sqlite3.connect(":memory:").close()
    if not any("libsqlite3.so" in line for line in Path("/proc/self/maps").read_text().splitlines()):
        return None
    lib = ctypes.CDLL("libsqlite3.so.0")
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return lib.sqlite3_memory_used


@pytest.fixture
def large_log(tmp_path):
    """About 40 MB of records (encrypted personal fields of 4 KB), far more than a reader's cache."""
    settings = AuditSettings(store_url=f"sqlite:///{tmp_path / 'audit.db'}").resolved(tmp_path)
    with AuditLog.open(settings) as log:
        for start in range(0, 10_000, 500):
            pending = [log.submit(decision(i, subject=f"s{i}", personal={"note": "x" * 4096}))
                       for i in range(start, start + 500)]
            for p in pending:
                p.result(30)
    return settings


def test_reading_the_whole_log_holds_at_most_a_readers_cache_of_it(large_log):
    used = sqlite_memory()
    if used is None:
        pytest.skip("this Python's sqlite3 does not use the system libsqlite3, whose counter is read here")
    with AuditLog.open(large_log) as log:
        before = used()
        rows = sum(1 for _ in log.store.iter_rows())
        grown = used() - before
    assert rows == 10_000
    assert Path(large_log.store_url.removeprefix("sqlite:///")).stat().st_size > 32 * MIB
    assert grown < 12 * MIB, f"SQLite grew by {grown / MIB:.1f} MiB reading the log"


def open_files_under(directory: Path) -> int:
    """This process's open file descriptors on files in `directory`."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            count += str(fd.resolve()).startswith(str(directory))
        except OSError:
            continue  # closed while listed
    return count


def test_a_log_verified_again_and_again_or_read_from_short_lived_threads_holds_no_more_connections(tmp_path):
    """Each reader connection keeps its own page cache of the log: one kept per thread that ever read,
    after the thread is gone, would grow without bound in a service that verifies itself now and then."""
    import threading

    settings = AuditSettings(store_url=f"sqlite:///{tmp_path / 'audit.db'}").resolved(tmp_path)
    with AuditLog.open(settings) as log:
        for i in range(20):
            log.append(decision(i, subject=f"s{i}", raw={"body": i}))
        assert log.verify().ok
        settled = open_files_under(tmp_path)

        for _ in range(30):
            assert log.verify().ok
            reader = threading.Thread(target=lambda: log.query(event_type="decision", limit=1))
            reader.start()
            reader.join()

        assert open_files_under(tmp_path) <= settled + 4  # one reader's files: the log, its WAL and lookup
