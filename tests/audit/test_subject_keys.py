from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from mlobs.audit.subject_keys import SubjectKeyStore, decrypt, encrypt


def test_ciphertext_round_trips_and_is_bound_to_its_record():
    key = bytes(32)
    box = encrypt(key, {"name": "x"}, b"decision-1")
    assert decrypt(key, box, b"decision-1") == {"name": "x"}
    with pytest.raises(InvalidTag):
        decrypt(key, box, b"decision-2")


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


def test_a_batch_loads_its_stored_keys_in_one_query(tmp_path):
    first = SubjectKeyStore(tmp_path / "keys.db")
    batch = first.begin()
    stored = {p: batch.key_for(p) for p in ("p1", "p2")}
    batch.commit()
    fresh = SubjectKeyStore(tmp_path / "keys.db")
    statements: list[str] = []
    fresh._conn.set_trace_callback(statements.append)
    batch = fresh.begin()
    batch.prefetch({"p1", "p2", "p3"})
    keys = {p: batch.key_for(p) for p in ("p1", "p2", "p3")}
    assert [s for s in statements if s.startswith("SELECT")] == [statements[-1]]
    assert keys["p1"] == stored["p1"] and keys["p2"] == stored["p2"]
    assert keys["p3"] not in stored.values()
