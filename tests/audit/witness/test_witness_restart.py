"""A witness restarted over its store: it checks signatures on the line it resumes from, not on its whole
history, and still refuses a store whose last line is not its largest cosigned tree. A line edited in the
middle is the business of whoever reads it, and `prove` / `check-proof` refuse it."""

from __future__ import annotations

import argparse

import orjson
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from starlette.testclient import TestClient

from audit import attacker
from audit.factories import decision
from audit.witness_helpers import TOKEN, log_app, signed_store, witness_for, witnessed_at
from mlobs.audit.checkpoint_note import open_checkpoint
from mlobs.audit.cli import register
from mlobs.audit.http import audit_router
from mlobs.audit.keys.key_rotation import rotate
from mlobs.audit.keys.signing import load_public_key
from mlobs.audit.witness import service
from mlobs.audit.witness.store import COSIGNED, ROTATIONS

HISTORY = 3000


def _lines(directory) -> list[bytes]:
    return (directory / COSIGNED).read_bytes().splitlines()


def _append(directory, *lines: bytes) -> None:
    with open(directory / COSIGNED, "ab") as handle:
        handle.write(b"".join(line + b"\n" for line in lines))


def test_a_restarted_witness_checks_signatures_on_its_last_line_only_and_resumes_from_it(tmp_path, monkeypatch):
    key = signed_store(tmp_path / "w", range(5, 5 * HISTORY + 1, 5))
    checked = {"log": 0, "witness": 0}

    def counting(name, real):
        def check(*args, **kw):
            checked[name] += 1
            return real(*args, **kw)
        return check

    monkeypatch.setattr(service, "open_checkpoint", counting("log", service.open_checkpoint))
    monkeypatch.setattr(service, "verify_cosignature", counting("witness", service.verify_cosignature))
    witness = witness_for(FastAPI(), key, tmp_path / "w")
    assert witness.head.size == 5 * HISTORY
    assert checked == {"log": 1, "witness": 1}


@pytest.mark.parametrize("appended", ["one older line", "a run of older lines in order", "the newest line again"])
def test_older_checkpoints_appended_to_a_long_store_stop_the_start(tmp_path, appended):
    key = signed_store(tmp_path / "w", range(5, 5 * HISTORY + 1, 5))
    lines = _lines(tmp_path / "w")
    extra = {"one older line": lines[100:101], "a run of older lines in order": lines[7:10],
             "the newest line again": lines[-1:]}[appended]
    _append(tmp_path / "w", *extra)
    size = orjson.loads(extra[0])["size"]
    with pytest.raises(SystemExit, match=f"line {HISTORY + 1}: tree size {size} after {5 * HISTORY}"):
        witness_for(FastAPI(), key, tmp_path / "w")


def test_an_older_checkpoint_appended_under_a_larger_size_than_its_own_stops_the_start(tmp_path):
    key = signed_store(tmp_path / "w", range(5, 501, 5))
    older = orjson.loads(_lines(tmp_path / "w")[3])
    _append(tmp_path / "w", orjson.dumps({"size": 10_000, "note": older["note"]}))
    with pytest.raises(SystemExit, match="line 101: its note is not of the tree size 10000"):
        witness_for(FastAPI(), key, tmp_path / "w")


def test_a_line_out_of_order_in_the_middle_of_the_store_stops_the_start_naming_it(tmp_path):
    key = signed_store(tmp_path / "w", range(5, 501, 5))
    lines = _lines(tmp_path / "w")
    lines[40], lines[41] = lines[41], lines[40]
    (tmp_path / "w" / COSIGNED).write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(SystemExit, match="line 42: tree size 205 after 210"):
        witness_for(FastAPI(), key, tmp_path / "w")


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", *argv])
    return args.func(args)


def _edit_line(directory, index: int, note: str) -> None:
    lines = _lines(directory)
    lines[index] = orjson.dumps({"size": orjson.loads(lines[index])["size"], "note": note})
    (directory / COSIGNED).write_bytes(b"\n".join(lines) + b"\n")


@pytest.mark.parametrize("edit", ["root replaced", "cosignature removed"])
def test_a_line_edited_in_the_middle_leaves_the_witness_cosigning_and_the_proof_from_it_is_refused(
        log, store_url, audit_settings, tmp_path, capsys, edit):
    directory = tmp_path / "witness"
    witnessed_at(log, store_url, audit_settings, directory, sizes=(10, 20, 30))
    note = orjson.loads(_lines(directory)[1])["note"]
    if edit == "root replaced":  # the log's signature no longer verifies
        root = note.split("\n")[2]
        note = note.replace(root, "B" * (len(root) - 1) + "=")
    else:  # a checkpoint the log signed but this witness never cosigned
        note = note[:note.rindex("\u2014 mlobs.local/witness")]
    _edit_line(directory, 1, note)
    public = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    restarted = witness_for(log_app(store_url), public, directory)  # its head, line 3, is intact
    assert restarted.head.size == 30
    for i in range(30, 40):
        log.append(decision(i))
    log.checkpoint()
    assert restarted.poll().size == 40, restarted.last_error
    decision_id = orjson.loads(attacker.rows(store_url)[14][1])[3]  # record 15: line 2 is its witnessed tree
    proof = tmp_path / "proof.bin"
    code = _cli("prove", decision_id, "--out", str(proof), "--path", store_url, "--witness", str(directory),
                "--public-key", str(public))
    if edit == "root replaced":
        assert code == 1 and "signature by" in capsys.readouterr().err and not proof.exists()
        return
    assert code == 0 and "record 15 of 20" in capsys.readouterr().out
    assert _cli("check-proof", str(proof), "--public-key", str(public),
                "--witness-key", str(directory / "witness_key.pub.pem")) == 1
    assert "no cosignature" in capsys.readouterr().err


def _consistency_down(store_url: str) -> FastAPI:
    """The log's witness endpoints, but its consistency proofs unavailable."""
    app = FastAPI()
    app.get("/audit/consistency")(lambda: JSONResponse({"detail": "unavailable"}, status_code=503))
    app.include_router(audit_router(store_url, SecretStr(TOKEN)))
    return app


def test_a_witness_restarted_after_following_a_rotation_resumes_from_the_old_keys_checkpoint(
        log, store_url, audit_settings, tmp_path):
    import shutil

    pinned = tmp_path / "pinned.pub.pem"
    shutil.copyfile(audit_settings.keys_dir / "checkpoint_signing.pub.pem", pinned)
    directory = tmp_path / "witness"
    witness = witness_for(log_app(store_url), pinned, directory)
    for i in range(10):
        log.append(decision(i))
    log.checkpoint()
    assert witness.poll().size == 10
    new_key = rotate(log, "ops")
    assert witness.poll().size == 11  # the old key's checkpoint covering the rotation record
    for i in range(10, 20):
        log.append(decision(i))
    log.checkpoint()
    witness.client = TestClient(_consistency_down(store_url), base_url="http://log")
    assert witness.poll() is None and "503" in witness.last_error  # followed the rotation, cosigned nothing
    assert len((directory / ROTATIONS).read_bytes().splitlines()) == 1 and len(_lines(directory)) == 2
    old_key_line = orjson.loads(_lines(directory)[-1])["note"]
    assert open_checkpoint(old_key_line, load_public_key(pinned)).size == 11

    restarted = witness_for(log_app(store_url), pinned, directory)  # configured with the old key still
    assert restarted.head.size == 11
    assert restarted.log_key.public_bytes_raw() == new_key.public_bytes_raw()
    assert restarted.poll().size == 21, restarted.last_error
