"""The compact inclusion proof: under 1 KB at 1,000,000 records, the same content as the JSON bundle,
and refused when any byte of it is altered."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mlobs.audit.verification import proof_compact
from mlobs.audit.checkpoint_note import NoteError, NoteSigner, TreeHead, cosign
from mlobs.audit.merkle import ProofError, inclusion_proof, root_from_inclusion
from mlobs.audit.verification.proofs import FORMAT, check_bundle, make_bundle
from mlobs.audit.storage.tree_store import open_reader

from audit.factories import decision

SIZE = 1_000_000


def _fake_subtree(lo: int, hi: int) -> bytes:
    """Node hashes of a stand-in tree: any 32-byte values give a path to some root."""
    return hashlib.sha256(f"{lo}:{hi}".encode()).digest()


@pytest.fixture(scope="module")
def keys():
    return Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()


def million_bundle(keys, index: int = 0) -> dict:
    """A hash-only bundle for leaf `index` of a 1,000,000-record tree, signed by the log, cosigned by a witness."""
    log_key, witness_key = keys
    leaf = hashlib.sha256(b"\x00the record").digest()
    path = inclusion_proof(_fake_subtree, index, SIZE)
    head = TreeHead("mlobs.local/audit", SIZE, root_from_inclusion(index, SIZE, leaf, path), "ab" * 32,
                    "2026-12-05T00:00:00.000000Z")
    signed = NoteSigner("mlobs.local/audit", log_key).sign(head)
    note = cosign(signed, "mlobs.local/witness", witness_key, 1_780_000_000)
    return {"format": FORMAT, "decision_id": "0123456789abcdef0123456789abcdef", "leaf_index": index,
            "record_hash": "cd" * 32, "tree_size": SIZE, "inclusion": [base64.b64encode(h).decode() for h in path],
            "checkpoint": note, "leaf_hash": base64.b64encode(leaf).decode()}


def test_a_proof_at_a_million_records_with_the_leaf_hash_is_under_1_kb_and_checks(keys):
    bundle = million_bundle(keys)
    assert len(bundle["inclusion"]) == 20
    data = proof_compact.encode(bundle)
    assert len(data) < 1024, len(data)
    result = check_bundle(data, keys[0].public_key(), keys[1].public_key())
    assert (result.leaf_index, result.tree_size, result.witnessed_at) == (0, SIZE, 1_780_000_000)


def test_the_compact_form_decodes_to_the_json_bundle_it_was_made_from(keys):
    bundle = million_bundle(keys, index=654_321)
    decoded = proof_compact.decode(proof_compact.encode(bundle))
    assert decoded == {k: v for k, v in bundle.items() if k != "record_hash"}  # not checkable without the record


def test_every_altered_byte_of_a_compact_proof_is_refused(keys):
    data = proof_compact.encode(million_bundle(keys, index=777))
    public, witness = keys[0].public_key(), keys[1].public_key()
    refused = 0
    for at in range(len(proof_compact.MAGIC), len(data), 7):
        altered = bytearray(data)
        altered[at] ^= 0x01
        try:
            result = check_bundle(bytes(altered), public, witness)
        except (ProofError, NoteError, ValueError):
            refused += 1
        else:  # only the decision id label is outside what the signatures bind
            assert result.decision_id != "0123456789abcdef0123456789abcdef", at
    assert refused > len(data) // 7 - 6
    with pytest.raises(ProofError):
        check_bundle(data[:-3], public, witness)


def test_a_real_logs_bundles_round_trip_with_the_record_and_with_the_leaf_hash(log, audit_settings):
    receipts = [log.append(decision(i)) for i in range(5)]
    log.checkpoint()
    reader, close = open_reader(audit_settings.store_url)
    try:
        for record in (True, False):
            bundle = make_bundle(reader, receipts[3].decision_id, sqlite=audit_settings.store_url.startswith("sqlite"),
                                 record=record)
            data = proof_compact.encode(bundle)
            assert proof_compact.decode(data) == (bundle if record else
                                                  {k: v for k, v in bundle.items() if k != "record_hash"})
            assert check_bundle(data, log.signer.public).leaf_index == 3
    finally:
        close()
