from __future__ import annotations

import stat

from mlobs.audit.keys.pseudonym import Keyring


def test_pseudonym_is_stable_keyed_and_not_the_raw_id(tmp_path):
    ring = Keyring.load_or_create(tmp_path / "ring.json")
    assert ring.pseudonym("alice") == ring.pseudonym("alice")
    assert ring.pseudonym("alice")[1] != ring.pseudonym("bob")[1]
    other = Keyring.load_or_create(tmp_path / "other.json")
    assert other.pseudonym("alice")[1] != ring.pseudonym("alice")[1]


def test_keyring_survives_reload_and_rotation_keeps_old_keys(tmp_path):
    ring = Keyring.load_or_create(tmp_path / "ring.json")
    old = ring.pseudonym("alice")
    assert ring.rotate() == "k2"
    again = Keyring.load_or_create(tmp_path / "ring.json")
    assert again.active == "k2" and again.pseudonym("alice", "k1") == old
    assert old[1] in again.all_pseudonyms("alice") and len(again.all_pseudonyms("alice")) == 2


def test_keyring_file_is_private(tmp_path):
    Keyring.load_or_create(tmp_path / "ring.json")
    assert stat.S_IMODE((tmp_path / "ring.json").stat().st_mode) == 0o600


def test_a_keyring_created_concurrently_keeps_the_first_one(tmp_path):
    first = Keyring.load_or_create(tmp_path / "ring.json")
    second = Keyring({"k1": b"\x01" * 32}, "k1", tmp_path / "ring.json")
    from mlobs.audit.keys.pseudonym import write_private

    assert not write_private(second.path, second._dump(), exclusive=True)
    assert Keyring.load_or_create(tmp_path / "ring.json").pseudonym("a") == first.pseudonym("a")
    assert [p.name for p in tmp_path.iterdir()] == ["ring.json"]  # no temporary files left behind
