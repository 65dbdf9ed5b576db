"""A witness follows a key rotation the old key signed and nothing else: after a restart too; a head the
retired key signs later, or a rotation to a key the trusted one never named, is refused."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import attacker
from audit.factories import decision
from audit.witness_helpers import log_app, pinned_key, witness_for
from mlobs.audit.checkpoint_note import NoteSigner, open_checkpoint
from mlobs.audit.keys.key_rotation import EVENT_KEY_ROTATION, rotate, statement
from mlobs.audit.keys.signing import load_public_key
from mlobs.audit.record import AUDIT_SERVICE, Decision
from mlobs.audit.storage.tree_store import open_reader


def grow(log, first: int, last: int) -> None:
    for i in range(first, last):
        log.append(decision(i))
    log.checkpoint()


def followed(log, store_url, key, directory):
    """A witness that cosigned 10 records, then followed a rotation to 21: (witness, the new key)."""
    witness = witness_for(log_app(store_url), key, directory)
    grow(log, 0, 10)
    assert witness.poll().size == 10
    new_key = rotate(log, "ops")
    grow(log, 10, 20)
    assert witness.poll().size == 21, witness.last_error  # the rotation record is a leaf too
    return witness, new_key


def latest_note(store_url) -> str:
    reader, close = open_reader(store_url)
    try:
        return reader.latest_note()[1]
    finally:
        close()


def test_a_restarted_witness_follows_the_kept_rotation_and_goes_on_cosigning(log, store_url, audit_settings,
                                                                             tmp_path):
    key = pinned_key(audit_settings, tmp_path)
    witness, new_key = followed(log, store_url, key, tmp_path / "witness")
    assert witness.log_key.public_bytes_raw() == new_key.public_bytes_raw()
    restarted = witness_for(log_app(store_url), key, tmp_path / "witness")  # configured with the old key still
    assert restarted.head.size == 21
    grow(log, 20, 30)
    assert restarted.poll().size == 31, restarted.last_error


def test_a_head_the_retired_key_signs_after_the_rotation_is_refused(log, store_url, audit_settings, tmp_path):
    key = pinned_key(audit_settings, tmp_path)
    old = log.signer.private_key()
    witness, _ = followed(log, store_url, key, tmp_path / "witness")
    # The leaked old key signs a larger tree with a forged root; the log is made to serve it as its latest.
    head = open_checkpoint(latest_note(store_url), log.signer.public)
    forged = NoteSigner(head.origin, old).sign(replace(head, size=26, root=b"\x07" * 32))
    log.close()
    attacker.run(store_url, [("INSERT INTO audit_tree_heads (size, note) VALUES (?, ?)", (26, forged))])
    assert witness.poll() is None
    assert witness.head.size == 21 and "no signature by the trusted key" in witness.last_error


def test_a_rotation_to_a_key_the_trusted_one_never_named_grants_nothing(log, store_url, audit_settings, tmp_path):
    key = pinned_key(audit_settings, tmp_path)
    witness = witness_for(log_app(store_url), key, tmp_path / "witness")
    grow(log, 0, 10)
    witness.poll()
    # An insider appends a "rotation" whose statement their own key signed, then signs heads with a third key.
    theirs, third = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    note = statement(log.settings.origin, theirs, third.public_key())
    log.append(Decision(service=AUDIT_SERVICE, model="", model_version="", event_type=EVENT_KEY_ROTATION,
                        output={}, details={"actor": "insider", "statement": note}))
    log.checkpoint()
    assert witness.poll().size == 11  # the real key still signs: nothing to follow yet
    real = open_checkpoint(latest_note(store_url), load_public_key(key))
    forged = NoteSigner(log.settings.origin, third).sign(replace(real, size=12, root=b"\x01" * 32))
    log.close()
    attacker.run(store_url, [("INSERT INTO audit_tree_heads (size, note) VALUES (?, ?)", (12, forged))])
    assert witness.poll() is None
    assert witness.head.size == 11 and "trusted key" in witness.last_error
    assert witness.log_key.public_bytes_raw() == load_public_key(key).public_bytes_raw()


def test_a_witness_whose_kept_rotation_was_edited_refuses_to_start(log, store_url, audit_settings, tmp_path):
    followed(log, store_url, pinned_key(audit_settings, tmp_path), tmp_path / "witness")
    key = tmp_path / "pinned.pub.pem"
    kept = tmp_path / "witness" / "rotations.jsonl"
    kept.write_bytes(kept.read_bytes().replace(b'"leaf_index":10', b'"leaf_index":9'))
    with pytest.raises(SystemExit, match="rotations.jsonl"):
        witness_for(log_app(store_url), key, tmp_path / "witness")


def test_a_witness_whose_kept_rotation_proof_was_edited_refuses_to_start_naming_the_file(
        log, store_url, audit_settings, tmp_path):
    import orjson

    followed(log, store_url, pinned_key(audit_settings, tmp_path), tmp_path / "witness")
    kept = tmp_path / "witness" / "rotations.jsonl"
    evidence = orjson.loads(kept.read_bytes())
    assert evidence["inclusion"], "a rotation record inside a tree of 11 has a proof path"
    evidence["inclusion"][0] = "A" * 43 + "="
    kept.write_bytes(orjson.dumps(evidence) + b"\n")
    with pytest.raises(SystemExit, match="rotations.jsonl: .*the file was edited"):
        witness_for(log_app(store_url), tmp_path / "pinned.pub.pem", tmp_path / "witness")


def test_prove_with_the_witness_and_a_key_that_did_not_sign_its_checkpoint_of_the_record_says_so(
        log, store_url, audit_settings, tmp_path, capsys):
    import argparse

    import orjson

    from mlobs.audit.cli import register
    from mlobs.audit.keys.signing import public_key_pem

    key = pinned_key(audit_settings, tmp_path)
    _, new_key = followed(log, store_url, key, tmp_path / "witness")
    new = tmp_path / "new.pub.pem"
    new.write_bytes(public_key_pem(new_key))
    ids = [orjson.loads(row[1])[3] for row in attacker.rows(store_url)]
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    for record, public, code in ((5, key, 0), (5, new, 1), (15, new, 0), (15, key, 1)):
        args = parser.parse_args(["audit", "prove", ids[record], "--out", str(tmp_path / "proof.bin"), "--path",
                                  store_url, "--witness", str(tmp_path / "witness"), "--public-key", str(public)])
        assert args.func(args) == code, (record, public)
        if code:
            err = capsys.readouterr().err
            assert f"the witness's first checkpoint holding record {record + 1} is not signed by {public}" in err
            assert "rotated" in err
