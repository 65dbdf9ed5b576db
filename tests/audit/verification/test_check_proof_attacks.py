"""`mlobs audit check-proof` on bundles an attacker shaped: every one fails with a message, none with a traceback."""

from __future__ import annotations

import argparse
import base64
import json

import orjson
import pytest

from audit.factories import decision
from mlobs.audit.cli import register
from mlobs.audit.verification.proofs import MAX_BUNDLE_BYTES


@pytest.fixture
def proven(log, audit_settings, tmp_path, monkeypatch):
    """Two decisions' JSON bundles from a real log, and a check-proof that trusts the log's key."""
    receipts = [log.append(decision(i)) for i in range(12)]
    log.checkpoint()
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", audit_settings.store_url)
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))

    def cli(*argv: str) -> int:
        args = parser.parse_args(["audit", *argv])
        return args.func(args)

    bundles = []
    for receipt in (receipts[4], receipts[9]):
        out = tmp_path / f"{receipt.decision_id}.json"
        assert cli("prove", receipt.decision_id, "--out", str(out), "--json") == 0
        bundles.append(orjson.loads(out.read_bytes()))
    key = str(audit_settings.keys_dir / "checkpoint_signing.pub.pem")

    def check(data: bytes) -> int:
        path = tmp_path / "attacked.json"
        path.write_bytes(data)
        return cli("check-proof", str(path), "--public-key", key)

    return bundles, check


def _with(bundle: dict, **changes) -> bytes:
    return json.dumps({**bundle, **changes}).encode()  # the standard library writes integers of any size


ATTACKS = {
    "leaf index as a string": lambda a, b: _with(a, leaf_index=str(a["leaf_index"])),
    "leaf index as a float": lambda a, b: _with(a, leaf_index=float(a["leaf_index"])),
    "leaf index null": lambda a, b: _with(a, leaf_index=None),
    "leaf index negative": lambda a, b: _with(a, leaf_index=-1),
    "leaf index past the tree": lambda a, b: _with(a, leaf_index=a["tree_size"]),
    "leaf index huge": lambda a, b: _with(a, leaf_index=2**70),
    "tree size zero": lambda a, b: _with(a, tree_size=0),
    "path of numbers": lambda a, b: _with(a, inclusion=[1, 2, 3]),
    "path null": lambda a, b: _with(a, inclusion=None),
    "path truncated": lambda a, b: _with(a, inclusion=a["inclusion"][:-1]),
    "path extended": lambda a, b: _with(a, inclusion=a["inclusion"] + a["inclusion"][:1]),
    "path hash not base64": lambda a, b: _with(a, inclusion=["!!"] * len(a["inclusion"])),
    "checkpoint null": lambda a, b: _with(a, checkpoint=None),
    "checkpoint a number": lambda a, b: _with(a, checkpoint=5),
    "record null": lambda a, b: _with(a, record=None),
    "record a string": lambda a, b: _with(a, record="x"),
    "header a number in JSON": lambda a, b: _with(a, record={**a["record"], "header": "5"}),
    "header a short list": lambda a, b: _with(a, record={**a["record"], "header": "[5]"}),
    "header an object": lambda a, b: _with(a, record={**a["record"], "header": "{}"}),
    "payload a number": lambda a, b: _with(a, record={**a["record"], "payload": 5}),
    "leaf hash null": lambda a, b: _with({k: v for k, v in a.items() if k != "record"}, leaf_hash=None),
    "A's record under B's decision id": lambda a, b: _with(a, decision_id=b["decision_id"]),
    "A's record on B's path and checkpoint": lambda a, b: _with(b, record=a["record"], record_hash=a["record_hash"]),
    "a JSON list": lambda a, b: b"[1, 2]",
    "a JSON string": lambda a, b: b'"bundle"',
    "JSON null": lambda a, b: b"null",
    "an empty file": lambda a, b: b"",
    "not UTF-8": lambda a, b: b"\xff\xfe\x00",
    "nested too deep": lambda a, b: b"[" * 5000 + b"]" * 5000,
    "compact magic alone": lambda a, b: b"MLIP\x02",
    "compact magic and junk": lambda a, b: b"MLIP\x02" + b"\xff" * 40,
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_shaped_bundle_fails_check_proof_with_a_message_and_no_traceback(proven, attack, capsys):
    (a, b), check = proven
    assert check(ATTACKS[attack](a, b)) == 1
    assert "check-proof: FAILED" in capsys.readouterr().err


def test_the_untouched_bundles_pass(proven, capsys):
    bundles, check = proven
    for bundle in bundles:
        assert check(orjson.dumps(bundle)) == 0
    assert capsys.readouterr().out.count("OK: decision") == 2


def test_a_file_larger_than_any_bundle_is_refused_unread(proven, capsys):
    (a, _), check = proven
    padding = [base64.b64encode(bytes(32)).decode()] * (MAX_BUNDLE_BYTES // 40)
    assert check(_with(a, inclusion=a["inclusion"] + padding)) == 1
    assert "no inclusion proof is that large" in capsys.readouterr().err
