from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from audit import attacker

from mlobs.audit.keys import subject_keys
from mlobs.audit.keys.subject_keys import SubjectKeyStore


def test_destroyed_key_is_gone_from_the_file(tmp_path):
    store = SubjectKeyStore(tmp_path / "keys.db")
    batch = store.begin()
    key = batch.key_for("p1")
    batch.commit()
    assert store.get("p1") == key
    batch = store.begin()
    batch.destroy("p1")
    batch.commit()
    store.close()
    reopened = SubjectKeyStore(tmp_path / "keys.db")
    assert reopened.get("p1") is None
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert key not in on_disk


def test_another_process_destroying_a_key_clears_this_cache(tmp_path):
    mine, theirs = SubjectKeyStore(tmp_path / "keys.db"), SubjectKeyStore(tmp_path / "keys.db")
    batch = mine.begin()
    batch.key_for("p1")
    batch.commit()
    assert mine.get("p1") is not None
    batch = theirs.begin()
    batch.destroy("p1")
    batch.commit()
    assert mine.get("p1") is None


def test_a_key_race_keeps_the_stored_key(tmp_path):
    mine, theirs = SubjectKeyStore(tmp_path / "keys.db"), SubjectKeyStore(tmp_path / "keys.db")
    ours, their_batch = mine.begin(), theirs.begin()
    our_key = ours.key_for("p1")
    their_key = their_batch.key_for("p1")
    their_batch.commit()
    assert ours.commit() == {our_key: their_key}
    assert mine.get("p1") == their_key


def test_a_cipher_is_made_once_per_key_and_dropped_with_the_key(tmp_path):
    store = SubjectKeyStore(tmp_path / "keys.db")
    batch = store.begin()
    key = batch.key_for("p1")
    batch.commit()
    cipher = store.cipher(key)
    assert store.cipher(key) is cipher
    batch = store.begin()
    batch.destroy("p1")
    batch.commit()
    assert store.cipher(key) is not cipher


def test_ciphers_held_are_bounded_and_the_oldest_goes_first(tmp_path, monkeypatch):
    monkeypatch.setattr(subject_keys, "CIPHERS_HELD", 3)
    store = SubjectKeyStore(tmp_path / "keys.db")
    keys = [bytes([i]) * 32 for i in range(4)]
    first, second = store.cipher(keys[0]), store.cipher(keys[1])
    store.cipher(keys[2])
    assert store.cipher(keys[0]) is first  # held
    store.cipher(keys[3])  # a fourth: the oldest makes room
    assert len(store._ciphers) == 3
    assert store.cipher(keys[1]) is second
    assert store.cipher(keys[0]) is not first


def test_a_cipher_is_kept_under_the_lock_that_other_threads_drop_ciphers_under(tmp_path):
    # Evicting the oldest while a refresh on another thread clears them would fail.
    store = SubjectKeyStore(tmp_path / "keys.db")
    made = threading.Event()
    with store._lock:
        making = threading.Thread(target=lambda: (store.cipher(b"k" * 32), made.set()))
        making.start()
        assert not made.wait(0.2)
    assert made.wait(5)
    making.join(5)


def test_a_batch_loads_its_stored_keys_in_one_query(tmp_path):
    first = SubjectKeyStore(tmp_path / "keys.db")
    batch = first.begin()
    stored = {p: batch.key_for(p) for p in ("p1", "p2")}
    batch.commit()
    first.merge()
    fresh = SubjectKeyStore(tmp_path / "keys.db")
    statements: list[str] = []
    fresh._sorted.set_trace_callback(statements.append)
    batch = fresh.begin()
    batch.prefetch({"p1", "p2", "p3"})
    keys = {p: batch.key_for(p) for p in ("p1", "p2", "p3")}
    assert [s for s in statements if s.startswith("SELECT")] == [statements[-1]]
    assert keys["p1"] == stored["p1"] and keys["p2"] == stored["p2"]
    assert keys["p3"] not in stored.values()


def _rows(path: Path, table: str) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {p for (p,) in conn.execute(f"SELECT pseudonym FROM {table}")}


def _made(store: SubjectKeyStore, *pseudonyms: str) -> dict[str, bytes]:
    batch = store.begin()
    batch.prefetch(set(pseudonyms))
    keys = {p: batch.key_for(p) for p in pseudonyms}
    batch.commit()
    return keys


def test_a_new_key_is_appended_and_moves_into_the_sorted_table_once_enough_wait(tmp_path):
    store = SubjectKeyStore(tmp_path / "keys.db", merge_at=3)
    keys = _made(store, "p1", "p2")
    assert _rows(store.appended_path, "new_subject_keys") == {"p1", "p2"} and _rows(store.path, "subject_keys") == set()
    keys |= _made(store, "p3")  # the third wakes the merging thread
    deadline = time.monotonic() + 10
    while (_rows(store.path, "subject_keys") != set(keys) or _rows(store.appended_path, "new_subject_keys")) \
            and time.monotonic() < deadline:
        time.sleep(0.01)  # a move commits the sorted file first, then empties the appended one
    assert _rows(store.path, "subject_keys") == {"p1", "p2", "p3"}
    assert _rows(store.appended_path, "new_subject_keys") == set()
    store.close()
    reopened = SubjectKeyStore(tmp_path / "keys.db", merge_at=3)
    assert {p: reopened.get(p) for p in keys} == keys


def test_keys_are_found_in_either_table_by_a_process_that_opened_before_they_were_made(tmp_path):
    mine = SubjectKeyStore(tmp_path / "keys.db")
    theirs = SubjectKeyStore(tmp_path / "keys.db")
    merged = _made(theirs, "p1")
    theirs.merge()
    appended = _made(theirs, "p2")
    batch = mine.begin()
    batch.prefetch({"p1", "p2"})
    assert batch.key_for("p1") == merged["p1"] and batch.key_for("p2") == appended["p2"]
    assert batch.commit() == {}


def test_a_key_race_across_a_merge_keeps_the_stored_key(tmp_path):
    mine, theirs = SubjectKeyStore(tmp_path / "keys.db"), SubjectKeyStore(tmp_path / "keys.db")
    ours = mine.begin()
    ours.prefetch({"p1"})
    our_key = ours.key_for("p1")
    their_key = _made(theirs, "p1")["p1"]
    theirs.merge()  # gone from the appended keys before we commit
    assert ours.commit() == {our_key: their_key}
    assert mine.get("p1") == their_key and _rows(mine.appended_path, "new_subject_keys") == set()


def test_erasure_destroys_a_key_in_either_table_and_leaves_no_copy_on_disk(tmp_path):
    store = SubjectKeyStore(tmp_path / "keys.db")
    merged = _made(store, "p1")["p1"]
    store.merge()
    appended = _made(store, "p2")["p2"]
    kept = _made(store, "p3")["p3"]
    batch = store.begin()
    batch.destroy("p1")
    batch.destroy("p2")
    batch.commit()
    store.merge()
    store.close()
    reopened = SubjectKeyStore(tmp_path / "keys.db")
    assert (reopened.get("p1"), reopened.get("p2"), reopened.get("p3")) == (None, None, kept)
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert merged not in on_disk and appended not in on_disk


def test_another_process_erasing_an_appended_key_clears_it_here(tmp_path):
    mine, theirs = SubjectKeyStore(tmp_path / "keys.db"), SubjectKeyStore(tmp_path / "keys.db")
    old = _made(mine, "p1")["p1"]
    batch = theirs.begin()
    batch.destroy("p1")
    batch.commit()
    batch = mine.begin()
    batch.prefetch({"p1"})
    fresh = batch.key_for("p1")
    assert fresh != old and batch.commit() == {}


def test_a_failed_merge_leaves_every_key_where_it_was_and_found(tmp_path):
    store = SubjectKeyStore(tmp_path / "keys.db", busy_timeout_s=0.05)
    keys = _made(store, "p1", "p2")
    blocker = sqlite3.connect(tmp_path / "keys.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holding the lock, as a stuck process would
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        store.merge()
    blocker.execute("ROLLBACK")
    assert {p: store.get(p) for p in keys} == keys
    assert store.merge() == 2
    assert {p: SubjectKeyStore(tmp_path / "keys.db").get(p) for p in keys} == keys


def test_a_key_store_made_before_keys_were_appended_keeps_its_keys(tmp_path):
    with sqlite3.connect(tmp_path / "keys.db") as conn:  # the layout of earlier versions: one table
        conn.execute("CREATE TABLE subject_keys (pseudonym TEXT PRIMARY KEY, key BLOB NOT NULL)")
        conn.execute("INSERT INTO subject_keys VALUES ('p1', ?)", (bytes(range(32)),))
    store = SubjectKeyStore(tmp_path / "keys.db")
    keys = _made(store, "p1", "p2")
    assert keys["p1"] == bytes(range(32)) and _rows(store.appended_path, "new_subject_keys") == {"p2"}


def test_an_erasure_during_a_merge_deletes_the_key_where_the_merge_put_it(tmp_path):
    store = SubjectKeyStore(tmp_path / "keys.db")
    key = _made(store, "p1")["p1"]
    merging = sqlite3.connect(tmp_path / "keys.db", isolation_level=None)
    merging.execute("BEGIN IMMEDIATE")  # a merge moving p1, not yet committed
    merging.execute("INSERT INTO subject_keys VALUES ('p1', ?)", (key,))
    batch = store.begin()
    batch.destroy("p1")
    erasing = threading.Thread(target=batch.commit)
    erasing.start()
    erasing.join(0.3)
    assert erasing.is_alive()  # waits for the merge
    merging.execute("COMMIT")
    erasing.join(10)
    assert _rows(store.path, "subject_keys") == set() and _rows(store.appended_path, "new_subject_keys") == set()


def test_keys_appended_after_the_rows_a_merge_moved_are_still_held_when_the_cache_is_dropped(tmp_path, monkeypatch):
    monkeypatch.setattr(subject_keys, "_CACHE_LIMIT", 1)  # the cache drops everything at each new key
    store = SubjectKeyStore(tmp_path / "keys.db")
    first, second = _made(store, "p1")["p1"], _made(store, "p2")["p2"]
    with sqlite3.connect(store.path) as merging:  # another process moves only p1, as a merge begun before p2 would
        merging.execute("INSERT INTO subject_keys VALUES ('p1', ?)", (first,))
    with sqlite3.connect(store.appended_path) as merging:
        merging.execute("DELETE FROM new_subject_keys WHERE pseudonym = 'p1'")
        merging.execute("UPDATE key_store_state SET merged_through = 1")
    store.refresh()
    assert store.get("p1") == first  # the cache now holds p1 alone
    batch = store.begin()
    batch.prefetch({"p2"})
    assert batch.key_for("p2") == second and batch.commit() == {}


def test_a_move_waiting_for_the_sorted_file_reads_the_appended_keys_only_once_it_has_it(tmp_path):
    store = SubjectKeyStore(tmp_path / "keys.db")
    _made(store, "p1")
    blocker = sqlite3.connect(tmp_path / "keys.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # an erasure holding the sorted file, about to commit
    moving = threading.Thread(target=store.merge)
    moving.start()
    moving.join(0.3)
    with sqlite3.connect(store.appended_path) as erasing:  # its appended half commits first
        erasing.execute("DELETE FROM new_subject_keys WHERE pseudonym = 'p1'")
    blocker.execute("COMMIT")
    moving.join(10)
    assert _rows(store.path, "subject_keys") == set()  # not brought back by the move


@pytest.mark.parametrize("change", [attacker.delete_directory, attacker.replace_with_a_copy],
                         ids=["deleted", "replaced"])
@pytest.mark.parametrize("subject", ["alice", "bob"], ids=["recurring subject", "new subject"])
def test_subject_keys_deleted_or_replaced_under_a_running_writer_refuse_decisions_rather_than_lose_their_keys(
        tmp_path, change, subject):
    """SQLite keeps writing to files unlinked while open: a key made, or only used, after that would be gone
    once the process ends, and with it the record's personal fields."""
    import sqlite3

    from audit.factories import decision
    from mlobs.audit import AuditLog, AuditSettings
    from mlobs.audit.errors import AuditUnavailable

    settings = AuditSettings(store_url=f"sqlite:///{tmp_path / 'log' / 'audit.db'}",
                             keys_dir=tmp_path / "keys").resolved(tmp_path)
    log = AuditLog.open(settings)
    try:
        log.append(decision(0, subject="alice"))
        change(tmp_path / "keys")

        with pytest.raises(AuditUnavailable, match="subject_keys.* is no longer the file this process opened"):
            log.append(decision(1, subject=subject))
    finally:
        log.close()
    conn = sqlite3.connect(tmp_path / "log" / "audit.db")
    kinds = [kind for (kind,) in conn.execute("SELECT json_extract(header, '$[2]') FROM audit_records")]
    conn.close()
    assert kinds.count("decision") == 1
