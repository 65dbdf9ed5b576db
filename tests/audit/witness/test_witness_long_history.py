"""A witness whose history grew long (one checkpoint a poll), served over HTTP: `verify --witness URL`
reads a bounded number of bytes from it, and still catches a truncation and deleted checkpoints;
`prove --witness URL` reads the one checkpoint that covers its record."""

from __future__ import annotations

import argparse
import shutil
import socket
import threading
import time
from types import SimpleNamespace

import orjson
import pytest
import uvicorn
from pydantic import SecretStr

from audit import attacker
from audit.factories import decision
from audit.witness_helpers import TOKEN
from mlobs.audit import AuditLog, AuditSettings
from mlobs.audit.checkpoint_note import NoteSigner, TreeHead, cosign
from mlobs.audit.cli import register
from mlobs.audit.keys.signing import Signer
from mlobs.audit.merkle import CompactRange, leaf_hash
from mlobs.audit.storage.tree_store import entry
from mlobs.audit.witness.service import create_app
from mlobs.audit.witness.settings import WitnessSettings
from mlobs.audit.witness.store import COSIGNED, WitnessStore
from mlobs.local.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HISTORY = 20_000  # cosigned checkpoints, one per record: about 5.5 hours of a witness polling every second
BOUND = 16 * 1024  # bytes one verify or prove may read from the witness: a few checkpoints' worth


@pytest.fixture(scope="module")
def long_history(tmp_path_factory):
    """A closed log of HISTORY records and a witness directory holding a cosigned checkpoint of the
    log at every size from 1 to HISTORY, as that many polls, one record apart, would have left it."""
    base = tmp_path_factory.mktemp("long-history")
    settings = AuditSettings(checkpoint_every=1000).resolved(base)
    log = AuditLog.open(settings)
    for lo in range(0, HISTORY, 5000):  # within the writer's queue
        for pending in [log.submit(decision(i)) for i in range(lo, lo + 5000)]:
            pending.result(120)
    log.checkpoint()
    log.close()
    signer = NoteSigner(settings.origin, Signer.load_or_create(settings.keys_dir).private_key())
    store = WitnessStore(base / "witness")
    rng, lines = CompactRange(), []
    for seq, header, payload, hash_ in attacker.rows(settings.store_url):
        rng.append_leaves([leaf_hash(entry(header, bytes(payload)))])
        note = signer.sign(TreeHead(settings.origin, seq, rng.root(), hash_))
        lines.append(orjson.dumps({"size": seq, "note": cosign(note, "mlobs.local/witness", store.private, seq)}))
    (base / "witness" / COSIGNED).write_bytes(b"\n".join(lines) + b"\n")
    return base, settings


class Counted:
    """The witness's app, counting the body bytes it sends."""

    def __init__(self, app) -> None:
        self.app, self.sent = app, 0

    async def __call__(self, scope, receive, send):
        async def counting(message):
            if message["type"] == "http.response.body":
                self.sent += len(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, counting)


@pytest.fixture(scope="module")
def witness_url(long_history):
    """The witness service over the long history on a loopback port (its polling off: the log is closed)."""
    base, settings = long_history
    witness = WitnessSettings(source_url=f"http://127.0.0.1:{free_port()}", token=SecretStr(TOKEN),
                              log_public_key=settings.keys_dir / "checkpoint_signing.pub.pem", dir=base / "witness")
    app = Counted(create_app(SimpleNamespace(audit_witness=witness)))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    server.should_exit = True
    thread.join(5)
    sock.close()


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", *argv])
    return args.func(args)


def _verify(base, path, url) -> int:
    return _cli("verify", str(path), "--public-key", str(base / "keys" / "checkpoint_signing.pub.pem"),
                "--witness", url, "--witness-key", str(base / "witness" / "witness_key.pub.pem"))


def test_verify_reads_a_bounded_number_of_bytes_from_a_witness_holding_a_long_history(
        long_history, witness_url, capsys):
    base, _ = long_history
    url, app = witness_url
    assert (base / "witness" / COSIGNED).stat().st_size > 100 * BOUND  # what reading the history would cost
    app.sent = 0
    assert _verify(base, base / "audit.db", url) == 0, capsys.readouterr()
    assert f"the largest at size {HISTORY}" in capsys.readouterr().out
    assert 0 < app.sent <= BOUND


@pytest.mark.parametrize("attack", ["truncated", "latest checkpoints deleted"])
def test_verify_with_the_bounded_read_still_catches_what_the_witness_saw(
        long_history, witness_url, tmp_path, capsys, attack):
    base, _ = long_history
    url, app = witness_url
    shutil.copy(base / "audit.db", tmp_path / "audit.db")
    copy = f"sqlite:///{tmp_path / 'audit.db'}"
    statements = [("DELETE FROM audit_checkpoints WHERE seq > 19000", ()),
                  ("DELETE FROM audit_tree_heads WHERE size > 19000", ())]
    if attack == "truncated":
        statements.append(("DELETE FROM audit_records WHERE seq > 19000", ()))
    attacker.run(copy, statements)
    app.sent = 0
    assert _verify(base, tmp_path / "audit.db", url) == 1
    out = capsys.readouterr().out
    assert ("records 19001..20000 were removed" if attack == "truncated" else "checkpoints were deleted") in out
    assert app.sent <= BOUND


def test_prove_reads_only_the_witness_checkpoint_that_covers_its_record(long_history, witness_url, tmp_path,
                                                                        capsys):
    base, settings = long_history
    url, app = witness_url
    header = attacker.rows(settings.store_url)[1233][1]
    decision_id = orjson.loads(header)[3]
    app.sent = 0
    out = tmp_path / "proof.bin"
    assert _cli("prove", decision_id, "--out", str(out), "--path", settings.store_url, "--witness", url,
                "--public-key", str(base / "keys" / "checkpoint_signing.pub.pem")) == 0
    assert "record 1234 of 1234" in capsys.readouterr().out  # the smallest cosigned tree holding it
    assert app.sent <= BOUND
    assert _cli("check-proof", str(out), "--public-key", str(base / "keys" / "checkpoint_signing.pub.pem"),
                "--witness-key", str(base / "witness" / "witness_key.pub.pem")) == 0
