"""A witness killed in the middle of writing a line (or a machine that lost power): what is left at the end of
its files is part of a line, or a line without its newline. It restarts from its last whole line, nothing is
ever glued to the part left, and a reader of a store being written never reads half a line."""

from __future__ import annotations


import orjson
from fastapi import FastAPI
from starlette.testclient import TestClient

from audit.witness_helpers import grow, log_app, pinned_key, signed_store, witness_for, witnessed_at
from mlobs.audit.keys.key_rotation import rotate
from mlobs.audit.proof_cli import load_witness
from mlobs.audit.witness.service import create_app
from mlobs.audit.witness.store import COSIGNED, ROTATIONS, read_head
from audit.witness.test_witness_store_reads import _settings



def _kept(directory) -> list[int]:
    data = (directory / COSIGNED).read_bytes()
    assert data.endswith(b"\n")
    return [orjson.loads(line)["size"] for line in data.splitlines()]


def _cut(path, keep) -> None:
    """The file as a write stopped at byte `keep` of its last line leaves it."""
    data = path.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[:last + keep(len(data) - last)])


def test_a_witness_killed_in_the_middle_of_a_line_restarts_from_its_last_whole_line_and_keeps_whole_lines(
        log, store_url, audit_settings, tmp_path):
    directory = tmp_path / "w"
    witnessed_at(log, store_url, audit_settings, directory, sizes=(10, 20, 30))
    _cut(directory / COSIGNED, lambda length: length // 2)
    key = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    restarted = witness_for(log_app(store_url), key, directory)
    assert restarted.head.size == 20  # the half line was never kept
    grow(log, 30, 40)
    assert restarted.poll().size == 40, restarted.last_error
    assert _kept(directory) == [10, 20, 40]
    assert witness_for(log_app(store_url), key, directory).head.size == 40


def test_a_last_line_that_lost_its_newline_is_never_glued_to_the_next_line_the_witness_keeps(
        log, store_url, audit_settings, tmp_path):
    directory = tmp_path / "w"
    witnessed_at(log, store_url, audit_settings, directory, sizes=(10, 20, 30))
    _cut(directory / COSIGNED, lambda length: length - 1)
    key = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    restarted = witness_for(log_app(store_url), key, directory)
    grow(log, 30, 40)
    assert restarted.poll().size == 40, restarted.last_error
    assert _kept(directory)[-1] == 40 and _kept(directory) == sorted(set(_kept(directory)))
    assert witness_for(log_app(store_url), key, directory).head.size == 40


def test_a_rotation_whose_evidence_was_cut_short_by_a_crash_is_followed_again_and_kept_whole(
        log, store_url, audit_settings, tmp_path):
    pinned = pinned_key(audit_settings, tmp_path)
    directory = tmp_path / "w"
    witness = witness_for(log_app(store_url), pinned, directory)
    grow(log, 0, 10)
    assert witness.poll().size == 10
    rotate(log, "ops")
    grow(log, 10, 20)
    assert witness.poll().size == 21, witness.last_error
    _cut(directory / ROTATIONS, lambda length: length // 3)  # as if killed while keeping the evidence
    _cut(directory / COSIGNED, lambda length: length // 2)  # before the checkpoint signed by the new key
    restarted = witness_for(log_app(store_url), pinned, directory)
    assert restarted.head.size == 10
    grow(log, 20, 30)
    assert restarted.poll().size == 31, restarted.last_error
    assert len((directory / ROTATIONS).read_bytes().splitlines()) == 1
    assert witness_for(log_app(store_url), pinned, directory).head.size == 31


def test_a_reader_of_a_store_whose_last_line_is_being_written_reads_the_whole_lines_before_it(tmp_path):
    directory = tmp_path / "w"
    key = signed_store(directory, [5, 10, 15])
    whole = (directory / COSIGNED).read_bytes()
    last = orjson.loads(whole.splitlines()[-1])["note"]
    with open(directory / COSIGNED, "ab") as handle:
        handle.write(whole.splitlines()[0][:100])  # the next line, its first bytes only so far
    client = TestClient(create_app(_settings(directory, key)), raise_server_exceptions=False)
    assert client.get("/checkpoint").text == last
    assert [note.split("\n")[1] for note in client.get("/checkpoints").json()["notes"]] == ["5", "10", "15"]
    assert client.get("/checkpoints", params={"from": 16}).json() == {"notes": []}
    assert read_head(directory).size == 15 and load_witness(str(directory)).notes == [last]


def test_a_witness_started_on_a_store_holding_only_half_a_line_starts_empty(tmp_path):
    directory = tmp_path / "w"
    key = signed_store(directory, [5])
    _cut(directory / COSIGNED, lambda length: length - 7)
    assert witness_for(FastAPI(), key, directory).head is None
