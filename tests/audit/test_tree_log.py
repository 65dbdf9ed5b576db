"""The log's Merkle tree, built by the committer, and its signed heads: proven before signed."""

from __future__ import annotations

import shutil

import pytest
from audit import attacker
from audit.factories import decision

from mlobs.audit import AuditUnavailable
from mlobs.audit.checkpoint_note import open_checkpoint
from mlobs.audit.merkle import CompactRange, leaf_hash
from mlobs.audit.tree_log import HEAD_FILE, IntegrityFailure
from mlobs.audit.storage.tree_store import entry, open_reader


def expected_root(url: str, size: int) -> bytes:
    rng = CompactRange()
    rng.append_leaves([leaf_hash(entry(h, bytes(p))) for _, h, p, _ in attacker.rows(url)[:size]])
    return rng.root()


def notes(url: str):
    reader, close = open_reader(url)
    try:
        return reader.notes()
    finally:
        close()


def test_every_signed_tree_head_is_the_rfc9162_root_of_the_records_it_counts(log, store_url):
    for i in range(57):
        log.append(decision(i, subject=f"s{i}"))
    log.close()
    signed = notes(store_url)
    assert [size for size, _ in signed][-1] == 57 and len(signed) >= 6  # every 10, and at close
    for size, note in signed:
        head = open_checkpoint(note, log.signer.public)
        assert head.size == size and head.origin == "mlobs.local/audit"
        assert head.root == expected_root(store_url, size)
        assert head.chain_head == attacker.rows(store_url)[size - 1][3]


def test_proofs_come_from_stored_nodes_of_every_fourth_level(make_log, store_url):
    log = make_log(max_batch=1000, checkpoint_every=100_000)
    for p in [log.submit(decision(i)) for i in range(300)]:
        p.result(30)
    log.close()
    reader, close = open_reader(store_url)
    try:
        # 300 leaves: 18 complete subtrees of 16 leaves, 1 of 256
        assert reader.node_count() == 18 + 1
        from mlobs.audit.merkle import tree_root

        assert tree_root(reader.subtree, 300) == expected_root(store_url, 300)
        assert tree_root(reader.subtree, 123) == expected_root(store_url, 123)
    finally:
        close()


def test_a_log_rolled_back_to_an_older_copy_is_refused_and_nothing_more_is_signed(
    make_log, store_url, backend, tmp_path
):
    if backend != "sqlite":
        pytest.skip("copies the database file")
    path = store_url.removeprefix("sqlite:///")
    log = make_log()
    for i in range(15):
        log.append(decision(i))
    log.close()
    shutil.copy(path, tmp_path / "old.db")
    log = make_log()
    for i in range(15, 40):
        log.append(decision(i))
    log.close()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"audit.db{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "old.db", path)
    before = notes(store_url)
    log = make_log()
    with pytest.raises(AuditUnavailable, match="rolled back"):
        log.append(decision(99))
    with pytest.raises(IntegrityFailure):  # and it stays refused
        log.append(decision(100))
    assert log.stats()["integrity_failures"] >= 2
    log.close()
    assert notes(store_url) == before  # closing signed nothing either


def test_records_rewritten_under_the_last_signed_head_stop_the_signer(make_log, store_url):
    log = make_log()
    for i in range(20):
        log.append(decision(i))
    log.close()
    attacker.rewrite_from(store_url, 5, "approve")
    log = make_log()
    with pytest.raises(IntegrityFailure, match="rewritten"):
        log.append(decision(21))


def test_the_last_signed_head_is_kept_with_the_key_not_in_the_log(log, audit_settings):
    for i in range(12):
        log.append(decision(i))
    log.close()
    kept = (audit_settings.keys_dir / HEAD_FILE).read_text()
    assert open_checkpoint(kept, log.signer.public).size == 12


def test_a_read_only_open_signs_nothing_at_close(make_log, store_url):
    log = make_log(checkpoint_every=1000)
    for i in range(5):
        log.append(decision(i))
    log.close()
    before = notes(store_url)
    from mlobs.audit import AuditLog

    ro = AuditLog.open(log.settings, read_only=True)
    ro.query(event_type="decision")
    ro.close()
    assert notes(store_url) == before


def test_quiet_log_signs_its_tail_within_the_interval(make_log, store_url):
    import time

    log = make_log(checkpoint_every=1000, checkpoint_interval_s=0.2)
    log.append(decision(1))
    deadline = time.monotonic() + 10
    while not notes(store_url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [s for s, _ in notes(store_url)] == [1]


def test_a_tail_left_unsigned_by_a_killed_process_is_signed_soon_after_a_restart_with_no_new_decision(
        make_log, store_url):
    import time

    killed = make_log(checkpoint_every=1000, checkpoint_interval_s=3600)
    for i in range(10):
        killed.append(decision(i))
    killed.checkpoint()
    for i in range(10, 15):
        killed.append(decision(i))  # then the process dies: nothing signs records 11..15
    restarted = make_log(checkpoint_every=1000, checkpoint_interval_s=0.2)
    deadline = time.monotonic() + 10
    while notes(store_url)[-1][0] < 15 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [s for s, _ in notes(store_url)] == [10, 15]
    assert open_checkpoint(notes(store_url)[-1][1], restarted.signer.public).size == 15


def test_each_complete_block_of_sixteen_keeps_its_leaf_hashes_across_groups(make_log, store_url):
    log = make_log(max_batch=7, checkpoint_every=100_000)  # groups that straddle blocks
    for p in [log.submit(decision(i)) for i in range(100)]:
        p.result(30)
    log.close()
    reader, close = open_reader(store_url)
    try:
        leaves = [leaf_hash(entry(h, bytes(p))) for _, h, p, _ in attacker.rows(store_url)]
        assert reader.kept_leaves(6) == leaves[:96]
        assert reader.kept_leaves(7) is None  # the seventh block is not complete
    finally:
        close()


@pytest.mark.slow  # 1.5 s of steady appends
def test_under_steady_load_a_head_is_signed_at_least_every_interval(audit_settings, store_url):
    import time

    from mlobs.audit import AuditLog
    from mlobs.audit.checkpoint_note import TreeHead
    from mlobs.audit.checkpoint_note import split as split_note
    from mlobs.audit.record import parse_ts

    # The real clock: heads carry their signing time.
    log = AuditLog.open(audit_settings.model_copy(update={"checkpoint_every": 1_000_000, "checkpoint_interval_s": 0.2}))
    stop = time.monotonic() + 1.5
    i = 0
    while time.monotonic() < stop:
        log.append(decision(i))
        i += 1
    log.close()
    times = [parse_ts(TreeHead.parse(split_note(note)[0]).time) for _, note in notes(store_url)]
    assert len(times) >= 5
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    assert max(gaps) < 1.0, gaps


def test_a_rotated_key_is_trusted_from_the_record_the_old_key_signed_and_a_forged_rotation_is_not(
        make_log, store_url, audit_settings):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mlobs.audit import Decision
    from mlobs.audit.checkpoint_note import NoteError
    from mlobs.audit.keys.key_rotation import EVENT_KEY_ROTATION, rotate, statement
    from mlobs.audit.verification.trust_verify import verify_log

    log = make_log()
    for i in range(12):
        log.append(decision(i))
    old = log.signer.public
    new = rotate(log, "ops")
    for i in range(12, 30):
        log.append(decision(i))
    log.close()
    last = notes(store_url)[-1][1]
    assert open_checkpoint(last, new).size == 31
    with pytest.raises(NoteError):
        open_checkpoint(last, old)
    assert verify_log(store_url, old).ok  # the verifier still brings only the key it trusted first

    # Someone with the database but not the old key "rotates" to their own key.
    thief = Ed25519PrivateKey.generate()
    log = make_log()
    log.append(Decision(service="mlobs.audit", model="", model_version="", output={}, event_type=EVENT_KEY_ROTATION,
                        details={"statement": statement(log.settings.origin, thief, thief.public_key())}))
    log.close()
    from mlobs.audit.checkpoint_note import NoteSigner, TreeHead

    forged = NoteSigner(log.settings.origin, thief).sign(TreeHead(log.settings.origin, 32, bytes(32)))
    attacker.run(store_url, [("DELETE FROM audit_tree_heads WHERE size = 32", ()),
                             ("INSERT INTO audit_tree_heads (size, note) VALUES (?, ?)", (32, forged))])
    report = verify_log(store_url, old)
    assert not report.ok and "trusted key" in report.problem.what


def test_two_writers_on_one_log_extend_one_tree_and_each_proves_the_others_heads(make_log, store_url):
    from mlobs.audit.verification.trust_verify import verify_log

    a, b = make_log(checkpoint_every=7), make_log(checkpoint_every=7)
    for i in range(60):
        (a if (i // 5) % 2 else b).append(decision(i))
    a.close()
    b.close()
    assert a.stats()["integrity_failures"] == b.stats()["integrity_failures"] == 0
    report = verify_log(store_url, a.signer.public)
    assert report.ok and report.records == 60, report.text()
    reader, close = open_reader(store_url)
    try:
        assert reader.kept_leaves(3) == [leaf_hash(entry(h, bytes(p))) for _, h, p, _ in attacker.rows(store_url)[:48]]
    finally:
        close()


def _records_read(url: str) -> int:
    """Rows of audit_records PostgreSQL has read, by scans and through indexes, as its statistics say."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables "
                           "WHERE relname = 'audit_records' AND schemaname = current_schema()").fetchone()
    return row[0] if row else 0


def _settled_reads(url: str, timeout: float = 10.0) -> int:
    """The count once the backends that read have reported (they do when their connections end)."""
    import time

    deadline, last = time.monotonic() + timeout, -1
    while time.monotonic() < deadline:
        now = _records_read(url)
        if now == last:
            return now
        last = now
        time.sleep(0.7)
    return last


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_verify_of_a_postgresql_log_reads_its_records_once_for_the_chain_and_the_tree(make_log, store_url):
    from mlobs.audit.verification.trust_verify import verify_log

    log = make_log(checkpoint_every=50)
    for i in range(400):
        log.submit(decision(i))
    log.append(decision(400))
    log.close()
    before = _settled_reads(store_url)
    report = verify_log(store_url, log.signer.public, workers=1)
    assert report.ok and report.records == 401, report.text()
    read = _settled_reads(store_url) - before
    # One pass for the chain and the tree together (a pass for each read 802), and a few single rows.
    assert 401 <= read < 1.5 * 401, read
