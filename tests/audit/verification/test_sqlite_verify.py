from __future__ import annotations

import hashlib

import pytest

from audit import attacker
from audit.factories import decision
from mlobs.audit.verification import sqlite_verify
from mlobs.audit.record import GENESIS_HASH
from mlobs.audit.verification.sqlite_verify import check_range, connect_readonly
from mlobs.audit.verify import check_segment

N = 30


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def db(make_log, store_url) -> str:
    log = make_log()
    for i in range(N):
        log.append(decision(i, subject=f"s{i}"))
    log.close()
    return store_url


def fast(url: str, lo: int = 1, hi: int = N, prev: str | None = GENESIS_HASH, pinned=None):
    conn = connect_readonly(url.removeprefix("sqlite:///"))
    try:
        return check_range(conn, lo, hi, pinned or {}, prev, chunk=4)  # many chunks, one partial
    finally:
        conn.close()


def slow(url: str, prev: str | None = GENESIS_HASH, pinned=None):
    return check_segment([tuple(r) for r in attacker.rows(url)], pinned or {}, 1, prev)


def test_a_sound_log_checked_in_chunks_ends_at_its_head_hash(db):
    segment = fast(db)
    assert segment.problem is None and segment.count == N
    assert segment.last_hash == attacker.rows(db)[-1][3]


def test_a_sound_log_is_passed_by_the_chunk_comparison_alone(db, monkeypatch):
    monkeypatch.setattr(sqlite_verify, "_locate", lambda *args: pytest.fail("went record by record"))
    assert fast(db).count == N and fast(db, lo=11, prev=None).count == N - 10


def test_a_range_checked_on_its_own_takes_its_first_link_on_trust(db):
    segment = fast(db, lo=11, prev=None)
    assert segment.problem is None and segment.count == N - 10
    assert segment.first_prev == attacker.rows(db)[9][3]


@pytest.mark.parametrize("tamper", [
    "UPDATE audit_records SET payload = CAST(replace(CAST(payload AS TEXT), 'B', 'A') AS BLOB) WHERE seq = 18",
    "UPDATE audit_records SET hash = 'x' WHERE seq = 9",
    "DELETE FROM audit_records WHERE seq = 13",
    "UPDATE audit_records SET header = replace(header, '[21,', '[22,') WHERE seq = 21",
    "UPDATE audit_records SET seq = -1 WHERE seq = 1",
])
def test_a_tampered_chunk_is_named_as_the_record_by_record_check_names_it(db, tamper):
    attacker.run(db, [(tamper, ())])
    expected = slow(db)
    found = fast(db)
    assert expected.problem is not None
    assert (found.problem.seq, found.problem.what) == (expected.problem.seq, expected.problem.what)


def test_a_record_whose_hash_was_recomputed_over_a_cut_payload_is_caught(db):
    # The stored hash matches the bytes before a NUL: a reader that stopped there would pass it.
    seq, header, payload, _ = attacker.rows(db)[4]
    cut = bytes(payload)
    forged = hashlib.sha256(header.encode() + b"\n" + cut).hexdigest()
    attacker.run(db, [("UPDATE audit_records SET payload = ?, hash = ? WHERE seq = ?",
                       (cut + b"\x00junk", forged, seq))])
    found = fast(db)
    assert found.problem is not None and found.problem.seq == seq


def test_a_pinned_hash_that_disagrees_is_reported_at_its_seq(db):
    pinned = {12: "f" * 64}
    found = fast(db, pinned=pinned)
    assert found.problem is not None and found.problem.seq == 12 and "signed checkpoint" in found.problem.what
