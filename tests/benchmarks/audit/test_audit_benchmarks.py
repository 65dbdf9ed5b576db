"""The audit benchmarks' tables and figures, and a small real run of the verify-against-size one."""

from __future__ import annotations

import bench_append
import bench_million
import pytest

RATES = {bench_append.SQLITE: {1: 1025.0, 10: 4473.0, 100: 17580.0, 1000: 22676.0},
         bench_append.POSTGRES: {1: 700.0, 10: 3000.0, 100: 9000.0, 1000: 15000.0}}
L, C = bench_million.LIBRARY, bench_million.CLI
GROWN = {bench_million.SQLITE: {10_000: {"build": 20_000.0, (L, 1): 0.05, (L, 2): 0.4, (C, 1): 0.06, (C, 2): 0.3},
                                1_000_000: {"build": None, (L, 1): 4.7, (L, 2): 2.54, (C, 1): 3.1, (C, 2): 1.64}}}
FOUND = {"first time (median)": 0.000786, "repeated (median)": 0.000446, "first time (p99)": 0.000892}


def test_the_appends_table_has_a_row_per_backend_and_records_per_commit():
    rows = bench_append.table(RATES).splitlines()
    assert rows[0] == "| backend | records per commit | durable appends/s |"
    assert "| SQLite (WAL, synchronous=FULL) | 1,000 | 22,676 |" in rows
    assert "| PostgreSQL | 1 | 700 |" in rows
    assert len(rows) == 2 + 8


def test_the_appends_figure_plots_each_backend_against_records_per_commit(img):
    embed = bench_append.plot(RATES)
    svg = (img / "audit-appends.svg").read_text()
    assert embed.endswith("(img/audit-appends.svg)")
    assert "SQLite (WAL, synchronous=FULL), with the Merkle tree" in svg and "PostgreSQL, with the Merkle tree" in svg
    assert ">22,676</text>" in svg and ">700</text>" in svg


def test_the_verify_table_gives_each_verifiers_time_per_size_and_processes_and_marks_a_kept_log():
    text = bench_million.tables(GROWN, [1, 2], FOUND)
    assert ("| backend | records | build through the writer (10,000 per commit) | `AuditLog.verify()`, 1 process "
            "| `AuditLog.verify()`, 2 processes | `mlobs audit verify`, 1 process | `mlobs audit verify`, 2 processes |"
            in text)
    assert "| SQLite | 10,000 | 20,000 records/s | 50 ms | 400 ms | 60 ms | 300 ms |" in text
    assert "| SQLite | 1,000,000 | (kept from an earlier run) | 4.70 s | 2.54 s | 3.10 s | 1.64 s |" in text
    assert "| query by raw subject, 10 hits (1,000,000 records, SQLite) | time |" in text
    assert "| repeated (median) | 0.446 ms |" in text


def test_the_verify_figure_has_a_line_per_backend_and_verifier_at_one_process_per_core(img):
    bench_million.plot(GROWN, [1, 2])
    svg = (img / "audit-verify.svg").read_text()
    assert ">SQLite, AuditLog.verify()</text>" in svg and ">SQLite, mlobs audit verify</text>" in svg
    assert "verify the whole log, 2 processes (s)" in svg
    assert ">10,000</text>" in svg and ">1,000,000</text>" in svg  # the sizes measured, as ticks


@pytest.mark.slow
def test_a_log_grown_through_two_sizes_verifies_at_each_and_finds_every_subjects_ten_records(tmp_path):
    grown, found = bench_million.grow(f"sqlite:///{tmp_path / 'audit.db'}", tmp_path, [300, 1000], [1, 2])
    assert list(grown) == [300, 1000]
    verifiers = {(bench_million.LIBRARY, 1), (bench_million.LIBRARY, 2), (bench_million.CLI, 1), (bench_million.CLI, 2)}
    assert all(r["build"] > 0 and set(r) == {"build", *verifiers} for r in grown.values())
    assert set(found) == {"first time (median)", "repeated (median)", "first time (p99)"}
