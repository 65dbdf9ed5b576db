"""The receiver's notification store as its journal's volume misbehaves under it."""

from __future__ import annotations

import orjson
import pytest

from mlobs.oncall.store import JournalError, NotificationStore


def page(name: str) -> dict:
    return {"received_at": 0.0, "alerts": [{"status": "firing", "labels": {"alertname": name}}], "pad": "x" * 300}


def test_a_journal_rotation_that_fails_leaves_the_journal_writable_and_the_next_rotation_goes_on(tmp_path):
    path = tmp_path / "pages.jsonl"
    store = NotificationStore(100, path, journal_max_bytes=1000)
    store.add(page("A"))
    store.add(page("B"))
    (tmp_path / "pages.jsonl.1").mkdir()  # the rename onto it fails
    (tmp_path / "pages.jsonl.1" / "in-the-way").touch()
    with pytest.raises(JournalError):
        store.add(page("C"), key="C")
    (tmp_path / "pages.jsonl.1" / "in-the-way").unlink()
    (tmp_path / "pages.jsonl.1").rmdir()
    assert store.add(page("C"), key="C") is False  # the retry: journaled, not listed again
    store.add(page("D"))
    store.close()
    names = [orjson.loads(line)["alerts"][0]["labels"]["alertname"]
             for file in (tmp_path / "pages.jsonl.1", path) for line in file.read_bytes().splitlines()]
    assert names == ["A", "B", "C", "D"]
    assert [n["alerts"][0]["labels"]["alertname"] for n in store.select()] == ["A", "B", "C", "D"]


def names(store: NotificationStore) -> list[str]:
    return [n["alerts"][0]["labels"]["alertname"] for n in store.select()]


def test_a_restarted_store_lists_the_newest_notifications_its_journal_and_rotated_journal_hold(tmp_path):
    path = tmp_path / "pages.jsonl"
    store = NotificationStore(100, path, journal_max_bytes=1000)
    for name in "ABCDE":
        store.add(page(name))
    store.close()
    # A and B rotated out; C and D in the rotated file, E in the journal.
    assert names(NotificationStore(100, path, journal_max_bytes=1000)) == list("CDE")
    assert names(NotificationStore(2, path, journal_max_bytes=1000)) == list("DE")
    # Two notifications of about 390 bytes fit in 800.
    assert names(NotificationStore(100, path, keep_bytes=800, journal_max_bytes=1000)) == list("DE")


def test_a_restarted_store_passes_over_the_half_line_a_crash_left_and_journals_after_it(tmp_path):
    path = tmp_path / "pages.jsonl"
    store = NotificationStore(100, path)
    store.add(page("A"))
    store.close()
    with open(path, "ab") as f:
        f.write(b'{"received_at": 1.0, "alerts": [{"status": "fir')
    restarted = NotificationStore(100, path)
    restarted.add(page("B"))
    restarted.close()
    assert names(restarted) == ["A", "B"]
    assert names(NotificationStore(100, path)) == ["A", "B"]

