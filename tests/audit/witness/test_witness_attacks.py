"""Attacks on the witness from outside its design list: its store edited on disk, sizes no store holds,
an unreachable or impostor witness given to verify."""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading
import time
import tracemalloc

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from starlette.testclient import TestClient

from audit import attacker
from audit.factories import decision
from audit.witness_helpers import TOKEN, log_app, witness_for, witnessed_at
from mlobs.audit.cli import register
from mlobs.audit.witness.store import COSIGNED

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _lines(directory) -> list[bytes]:
    return (directory / COSIGNED).read_bytes().splitlines()


def test_a_witness_whose_store_had_an_older_checkpoint_appended_refuses_to_start_rather_than_cosign_a_rollback(
        log, store_url, audit_settings, tmp_path):
    directory = tmp_path / "witness"
    witnessed_at(log, store_url, audit_settings, directory)
    lines = _lines(directory)
    (directory / COSIGNED).write_bytes(b"\n".join(lines + [lines[1]]) + b"\n")  # size 20 made the latest again
    log.close()
    attacker.run(store_url, [("DELETE FROM audit_records WHERE seq > 20", ()),
                             ("DELETE FROM audit_tree_heads WHERE size > 20", ()),
                             ("DELETE FROM audit_checkpoints WHERE seq > 20", ())])
    with pytest.raises(SystemExit, match="tree size 20 after 30"):
        witness_for(log_app(store_url), audit_settings.keys_dir / "checkpoint_signing.pub.pem", directory)


def test_a_log_checkpoint_the_witness_never_cosigned_planted_in_its_store_stops_it_at_start(
        log, store_url, audit_settings, tmp_path):
    directory = tmp_path / "witness"
    witnessed_at(log, store_url, audit_settings, directory, sizes=(10,))
    for i in range(10, 15):
        log.append(decision(i))
    log.checkpoint()
    plain = TestClient(log_app(store_url)).get("/audit/checkpoint", headers=AUTH).text
    with open(directory / COSIGNED, "ab") as handle:
        handle.write(orjson.dumps({"size": 15, "note": plain}) + b"\n")
    with pytest.raises(SystemExit, match="line 2: the checkpoint carries no cosignature"):
        witness_for(log_app(store_url), audit_settings.keys_dir / "checkpoint_signing.pub.pem", directory)


@pytest.mark.parametrize("line", [b"garbage", b"[1]", b'{"size": 1}', b'{"size": 1, "note": 5}'])
def test_a_malformed_line_in_the_witness_store_stops_the_witness_and_verify_with_a_message(
        log, store_url, audit_settings, tmp_path, line, monkeypatch, capsys):
    directory = tmp_path / "witness"
    witnessed_at(log, store_url, audit_settings, directory, sizes=(10,))
    with open(directory / COSIGNED, "ab") as handle:
        handle.write(line + b"\n")
    with pytest.raises(SystemExit, match="line 2 is not a cosigned checkpoint"):
        witness_for(log_app(store_url), audit_settings.keys_dir / "checkpoint_signing.pub.pem", directory)
    assert _verify(monkeypatch, store_url, audit_settings, "--witness", str(directory)) == 1
    assert "line 2 is not a cosigned checkpoint" in capsys.readouterr().err


def _verify(monkeypatch, store_url, audit_settings, *argv: str) -> int:
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", store_url)
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", "verify", "--public-key",
                              str(audit_settings.keys_dir / "checkpoint_signing.pub.pem"), *argv])
    return args.func(args)


def test_verify_given_an_unreachable_witness_url_fails_with_a_message(log, store_url, audit_settings, monkeypatch,
                                                                       capsys):
    from mlobs.local.ports import free_port

    log.append(decision(1))
    log.close()
    assert _verify(monkeypatch, store_url, audit_settings, "--witness", f"http://127.0.0.1:{free_port()}") == 1
    assert "cannot read the witness" in capsys.readouterr().err


@pytest.mark.parametrize("first, to", [(1, 2**63), (2**63, 2**63), (1, 10**30), (10**30, 10**30)])
def test_a_consistency_request_for_a_size_no_store_can_hold_is_refused_not_an_error(log, store_url, first, to):
    log.append(decision(1))
    log.checkpoint()
    client = TestClient(log_app(store_url), raise_server_exceptions=False)
    response = client.get("/audit/consistency", params={"from": first, "to": to}, headers=AUTH)
    assert response.status_code == 422


def test_verify_says_when_it_did_not_check_the_witness_cosignatures(log, store_url, audit_settings, tmp_path,
                                                                     monkeypatch, capsys):
    directory = tmp_path / "witness"
    witnessed_at(log, store_url, audit_settings, directory, sizes=(10,))
    log.close()
    assert _verify(monkeypatch, store_url, audit_settings, "--witness", str(directory)) == 0
    assert "cosignatures NOT checked (no --witness-key given)" in capsys.readouterr().out
    assert _verify(monkeypatch, store_url, audit_settings, "--witness", str(directory),
                   "--witness-key", str(directory / "witness_key.pub.pem")) == 0
    assert "each cosigned by the witness's key" in capsys.readouterr().out


def test_the_witness_follows_a_key_rotation_the_old_key_signed_and_goes_on_cosigning(
        log, store_url, audit_settings, tmp_path):
    from mlobs.audit.keys.key_rotation import rotate

    witness = witnessed_at(log, store_url, audit_settings, tmp_path / "witness", sizes=(10,))
    rotate(log, "ops")
    for i in range(10, 20):
        log.append(decision(i))
    log.checkpoint()
    assert witness.poll() is not None, witness.last_error


@pytest.mark.parametrize("token", ["", "   "], ids=["empty", "blank"])
def test_an_empty_witness_token_leaves_the_endpoints_off_instead_of_open_to_an_empty_bearer(
        log, store_url, monkeypatch, token):
    from mlobs.settings import Settings

    monkeypatch.setenv("MLOBS_AUDIT__WITNESS_TOKEN", token)  # as `$(cat missing-file)` sets it
    configured = Settings(_env_file=None).audit.witness_token
    log.append(decision(1))
    log.checkpoint()
    from fastapi import FastAPI

    from mlobs.audit.http import audit_router

    app = FastAPI()
    app.include_router(audit_router(store_url, configured))
    client = TestClient(app)
    for header in ("Bearer ", "Bearer", f"Bearer {token}"):
        assert client.get("/audit/checkpoint", headers={"Authorization": header}).status_code in (401, 403)


def test_a_witness_token_too_short_to_resist_guessing_is_refused_at_start(monkeypatch):
    from pydantic import ValidationError

    from mlobs.settings import Settings

    monkeypatch.setenv("MLOBS_AUDIT__WITNESS_TOKEN", "secret")
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(_env_file=None)


def _chunks(head: bytes, filler: bytes, total: int):
    yield head
    for _ in range(total // len(filler) if filler else 0):
        yield filler


@contextlib.contextmanager
def hostile_log(checkpoint, proof=(b'{"proof": []}', b"", 0)):
    """A log served on a real socket that answers the witness with what it likes, streamed: each answer
    is (first bytes, filler, filler length), made as it is sent."""
    app = FastAPI()
    app.get("/audit/checkpoint")(lambda: StreamingResponse(_chunks(*checkpoint), media_type="text/plain"))
    app.get("/audit/consistency")(lambda: StreamingResponse(_chunks(*proof), media_type="application/json"))
    with served(app) as url:
        yield httpx.Client(base_url=url, timeout=30)


GIANT = 200 * 1024 * 1024


@pytest.mark.integration
@pytest.mark.parametrize("answer", ["a giant checkpoint", "a giant proof", "a proof that is a list",
                                    "a checkpoint not UTF-8"])
def test_a_hostile_log_answering_the_witness_with_junk_is_refused_and_counted_without_exhausting_it(
        log, store_url, audit_settings, tmp_path, answer):
    witness = witnessed_at(log, store_url, audit_settings, tmp_path / "witness", sizes=(10,))
    for i in range(10, 20):
        log.append(decision(i))
    log.checkpoint()
    real = TestClient(log_app(store_url)).get("/audit/checkpoint", headers=AUTH).content
    checkpoint, proof = {"a giant checkpoint": ((b"", b"x" * 65536, GIANT), None),
                         "a giant proof": ((real, b"", 0), (b'{"proof": ["', b"A" * 65536, GIANT)),
                         "a proof that is a list": ((real, b"", 0), (b"[1, 2]", b"", 0)),
                         "a checkpoint not UTF-8": ((b"\xff\xfe" * 10, b"", 0), None)}[answer]
    with hostile_log(checkpoint, *([proof] if proof else [])) as client:
        witness.client = client
        tracemalloc.start()
        try:
            assert witness.poll() is None and witness.refused == 1 and witness.head.size == 10
            assert "RemoteProtocolError" not in witness.last_error  # refused for what the log sent
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, peak


@contextlib.contextmanager
def served(app):
    """`app` on a real loopback socket; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


@pytest.mark.integration
@pytest.mark.parametrize("where", ["the log's own service", "a server answering 404 to everything"])
def test_verify_given_a_url_that_is_no_witness_fails_rather_than_read_it_as_a_witness_with_nothing_cosigned(
        log, store_url, audit_settings, monkeypatch, capsys, where):
    log.append(decision(1))
    log.checkpoint()
    log.close()
    with served(log_app(store_url) if where == "the log's own service" else FastAPI()) as url:
        assert _verify(monkeypatch, store_url, audit_settings, "--witness", url) == 1
    assert "did not answer with a witness's checkpoints" in capsys.readouterr().err


@pytest.mark.integration
def test_verify_reads_no_more_than_one_checkpoints_worth_of_a_giant_answer_from_a_witness(
        log, store_url, audit_settings, monkeypatch, capsys):
    log.append(decision(1))
    log.checkpoint()
    log.close()
    app = FastAPI()
    app.get("/checkpoint")(lambda: StreamingResponse(_chunks(b"", b"x" * 65536, GIANT), media_type="text/plain"))
    with served(app) as url:
        tracemalloc.start()
        try:
            assert _verify(monkeypatch, store_url, audit_settings, "--witness", url) == 1
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert "over 65536 bytes" in capsys.readouterr().err and peak < 16 * 1024 * 1024
