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
