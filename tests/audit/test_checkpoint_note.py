"""Checkpoints as C2SP signed notes: the Go sumdb/note reference vector, tampering, cosignatures."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mlobs.audit.checkpoint_note import (
    NoteError,
    NoteSigner,
    TreeHead,
    cosign,
    key_id,
    open_checkpoint,
    split,
    verify_cosignature,
    vkey,
)

# golang.org/x/mod/sumdb/note, note_test.go and the package documentation.
GO_SKEY_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = GO_TEXT + (
    "\n\u2014 PeterNeumann"
    " x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_key_id_vkey_and_signature_match_the_go_sumdb_note_reference_vector():
    private = Ed25519PrivateKey.from_private_bytes(GO_SKEY_SEED)
    assert vkey("PeterNeumann", private.public_key()) == GO_VKEY
    assert key_id("PeterNeumann", private.public_key()).hex() == "c74f20a3"
    body, [sig] = split(GO_NOTE)
    assert body == GO_TEXT.encode() and sig.name == "PeterNeumann"
    assert private.sign(body) == sig.signature  # Ed25519 is deterministic: byte for byte


@pytest.fixture
def signer():
    return NoteSigner("mlobs.test/audit", Ed25519PrivateKey.generate())


def head(size=6400):
    return TreeHead("mlobs.test/audit", size, bytes(range(32)), "ab" * 32, "2026-01-01T00:00:00.000000Z")


def test_signed_checkpoint_has_the_c2sp_layout_and_opens_with_the_trusted_key(signer):
    note = signer.sign(head())
    lines = note.split("\n")
    assert lines[:3] == ["mlobs.test/audit", "6400", base64.b64encode(bytes(range(32))).decode()]
    assert lines[5] == "" and lines[6].startswith("\u2014 mlobs.test/audit ")
    assert open_checkpoint(note, signer.public) == head()


@pytest.mark.parametrize("edit", [
    lambda n: n.replace("\n6400\n", "\n6401\n"),
    lambda n: n.replace("mlobs-chain ab", "mlobs-chain cd"),
    lambda n: n.replace("mlobs.test/audit\n", "mlobs.evil/audit\n", 1),
])
def test_any_edit_of_a_signed_checkpoint_is_refused(signer, edit):
    with pytest.raises(NoteError):
        open_checkpoint(edit(signer.sign(head())), signer.public)


def test_a_checkpoint_signed_by_another_key_is_refused(signer):
    other = NoteSigner("mlobs.test/audit", Ed25519PrivateKey.generate())
    with pytest.raises(NoteError, match="no signature by the trusted key"):
        open_checkpoint(other.sign(head()), signer.public)


def test_witness_cosignature_verifies_with_its_key_only_and_keeps_the_log_signature(signer):
    witness = Ed25519PrivateKey.generate()
    note = cosign(signer.sign(head()), "witness.test/w1", witness, 1_767_225_600)
    assert verify_cosignature(note, witness.public_key()) == 1_767_225_600
    assert open_checkpoint(note, signer.public) == head()
    with pytest.raises(NoteError):
        verify_cosignature(note, Ed25519PrivateKey.generate().public_key())
    forged = note.replace("\n6400\n", "\n6300\n")
    with pytest.raises(NoteError):
        verify_cosignature(forged, witness.public_key())
