"""Checkpoint key rotation: a record in the log, signed by the old key, naming the new one.

The rotation record (event_type "key_rotation") carries a signed note by the old key:

    mlobs-key-rotation
    <origin>
    <vkey of the new key>            name+hex(key id)+base64(0x01 || public key)

    — <origin> <old key's signature>

The old key then signs a tree head covering the record, and only then does the log sign with the
new key. A verifier that trusts the old key trusts the new one from that record on, and only if
that statement verifies with a key it already trusts. Run it with one writing process: another
process would go on signing with the old key until it restarts.

A witness, which holds no copy of the log, follows a rotation from its evidence (`followed_key`): the
rotation record's bytes, the first checkpoint covering it (signed by the old key) and the record's
inclusion proof in that tree, as the log's `GET /audit/rotations` serves them.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from mlobs.audit.checkpoint_note import (
    NoteError,
    NoteSigner,
    Signature,
    TreeHead,
    key_id,
    open_checkpoint,
    split,
    vkey,
)
from mlobs.audit.merkle import leaf_hash, verify_inclusion
from mlobs.audit.record import entry
from mlobs.audit.keys.pseudonym import write_private
from mlobs.audit.keys.signing import Signer, public_key_pem

EVENT_KEY_ROTATION = "key_rotation"
HEADER = "mlobs-key-rotation"


def statement(origin: str, old: Ed25519PrivateKey, new: Ed25519PublicKey) -> str:
    body = f"{HEADER}\n{origin}\n{vkey(origin, new)}\n".encode()
    signature = Signature(origin, key_id(origin, old.public_key()), old.sign(body))
    return body.decode() + "\n" + signature.line()


def new_key_in(note: str, trusted: list[Ed25519PublicKey]) -> Ed25519PublicKey:
    """The key a rotation statement names, if a trusted key signed it; raises NoteError."""
    body, signatures = split(note)
    lines = body.decode("utf-8", "replace").split("\n")
    if len(lines) != 4 or lines[0] != HEADER:
        raise NoteError("not a key rotation statement")
    origin, named = lines[1], lines[2]
    for sig in signatures:
        for public in trusted:
            if sig.name == origin and sig.key_id == key_id(origin, public):
                try:
                    public.verify(sig.signature, body)
                except InvalidSignature:
                    raise NoteError("the key rotation statement's signature does not verify") from None
                name, _, material = named.split("+", 2)
                raw = base64.b64decode(material)
                if name != origin or raw[:1] != b"\x01" or len(raw) != 33:
                    raise NoteError("the key rotation statement names no Ed25519 key of this log")
                return Ed25519PublicKey.from_public_bytes(raw[1:])
    raise NoteError("the key rotation statement is not signed by a trusted key")


def followed_key(evidence: dict, trusted: Ed25519PublicKey) -> tuple[TreeHead, Ed25519PublicKey]:
    """(the checkpoint covering the rotation, the key it rotates to), from a rotation's evidence:
    {"leaf_index", "header", "payload", "tree_size", "checkpoint", "inclusion": [base64 hashes]}. The
    checkpoint must be signed by `trusted`, the record included in its tree, and the statement the record
    holds signed by `trusted` too. Raises NoteError or ProofError (mlobs.audit.merkle)."""
    try:
        index, header, payload = int(evidence["leaf_index"]), str(evidence["header"]), str(evidence["payload"])
        proof = [base64.b64decode(h, validate=True) for h in evidence["inclusion"]]
        head = open_checkpoint(evidence["checkpoint"], trusted)
        fields = orjson.loads(header)
        statement_note = orjson.loads(payload)["details"]["statement"]
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError) as exc:
        raise NoteError(f"key rotation evidence is malformed: {exc}") from None
    if head.size != evidence.get("tree_size") or not isinstance(fields, list) or len(fields) < 3:
        raise NoteError("key rotation evidence does not match its checkpoint")
    if fields[0] != index + 1 or fields[2] != EVENT_KEY_ROTATION:
        raise NoteError(f"the record at leaf {index} is not a key rotation")
    verify_inclusion(index, head.size, leaf_hash(entry(header, payload.encode())), proof, head.root)
    return head, new_key_in(statement_note, [trusted])


def rotate(log, actor: str) -> Ed25519PublicKey:
    """Rotate `log`'s checkpoint key (an AuditLog opened for writing); returns the new public key."""
    from mlobs.audit.record import AUDIT_SERVICE, Decision

    if log.tree is None:
        raise ValueError("a read-only log cannot rotate its key")
    old = log.signer.private_key()
    new = Ed25519PrivateKey.generate()
    note = statement(log.settings.origin, old, new.public_key())
    log.append(Decision(service=AUDIT_SERVICE, model="", model_version="", output={"new_key": vkey(
        log.settings.origin, new.public_key())}, event_type=EVENT_KEY_ROTATION,
        details={"actor": actor, "statement": note}))
    log.checkpoint()  # the old key signs a head that covers the rotation
    keys_dir = Path(log.settings.keys_dir)
    retired = keys_dir / f"checkpoint_signing.{key_id(log.settings.origin, log.signer.public).hex()}.retired.pem"
    os.replace(keys_dir / "checkpoint_signing.pem", retired)
    write_private(keys_dir / "checkpoint_signing.pem", new.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (keys_dir / "checkpoint_signing.pub.pem").write_bytes(public_key_pem(new.public_key()))
    signer = Signer(new)
    log.signer = log._writer._signer = signer
    log.tree.signer = NoteSigner(log.settings.origin, new)
    if log.tree.signed is not None:  # the kept head, now under the key that will check it
        write_private(log.tree._head_path, log.tree.signer.sign(log.tree.signed).encode())
    return new.public_key()
