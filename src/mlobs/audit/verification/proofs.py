"""Inclusion proof bundles: one decision, checkable offline with the log's public key alone.

A bundle holds the record (or only its leaf hash), its leaf index, the RFC 9162 inclusion
path to the root of a signed checkpoint, and that checkpoint as a C2SP signed note with any
witness cosignatures. It shows nothing of any other record. It is written as JSON (readable) or
in the compact binary form of proof_compact (under 1 KB at 1,000,000 records with the leaf hash);
check_bundle takes either.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mlobs.audit.verification import proof_compact as compact
from mlobs.audit.checkpoint_note import (
    NoteError,
    TreeHead,
    note_origin,
    open_checkpoint,
    verify_cosignature,
)
from mlobs.audit.merkle import ProofError, inclusion_proof, leaf_hash, verify_inclusion
from mlobs.audit.verification.proof_compact import FORMAT
from mlobs.audit.storage.tree_store import TreeReader, entry


class ProofMissing(LookupError):
    """No such decision, or no signed checkpoint covers it yet."""


def find_record(reader: TreeReader, decision_id: str, sqlite: bool) -> tuple:
    """(seq, header, payload, hash) of the decision, by the decision id index."""
    if sqlite:
        from mlobs.audit.storage.sqlite_lookup import header_field

        column = header_field("decision_id")
    else:
        column = "decision_id"
    rows = reader._query(f"SELECT seq, header, payload, hash FROM audit_records WHERE {column} = ? "
                         "ORDER BY seq LIMIT 1", (decision_id,))
    if not rows:
        raise ProofMissing(f"no record of decision {decision_id}")
    return rows[0]


def make_bundle(reader: TreeReader, decision_id: str, *, sqlite: bool, notes: list[str] | None = None,
                public: Ed25519PublicKey | None = None, record: bool = True) -> dict:
    """The bundle for a decision. `notes`: checkpoints to prefer (a witness's cosigned ones, each
    opened with `public`); otherwise the log's first checkpoint that covers the record."""
    seq, header, payload, record_hash = find_record(reader, decision_id, sqlite)
    note = None
    for candidate in notes or []:
        head = open_checkpoint(candidate, public)
        if head.size >= seq and (note is None or head.size < note[0]):
            note = (head.size, candidate)
    if note is None:
        note = reader.note_covering(seq)
    if note is None:
        raise ProofMissing(f"decision {decision_id} (record {seq}) is not yet covered by a signed checkpoint")
    size, text = note
    header_text = header if isinstance(header, str) else bytes(header).decode()
    payload_bytes = bytes(payload)
    bundle = {
        "format": FORMAT,
        "decision_id": decision_id,
        "leaf_index": seq - 1,
        "record_hash": record_hash if isinstance(record_hash, str) else bytes(record_hash).decode(),
        "tree_size": size,
        "inclusion": [base64.b64encode(h).decode() for h in inclusion_proof(reader.subtree, seq - 1, size)],
        "checkpoint": text,
    }
    if record:
        bundle["record"] = {"header": header_text, "payload": payload_bytes.decode()}
    else:
        bundle["leaf_hash"] = base64.b64encode(leaf_hash(entry(header_text, payload_bytes))).decode()
    return bundle


@dataclass
class ProofResult:
    decision_id: str
    leaf_index: int
    tree_size: int
    origin: str
    witnessed_at: int | None = None
    record_checked: bool = True  # False: only a leaf hash was proven, the decision id is the bundle's word

    def text(self) -> str:
        what = f"decision {self.decision_id}" if self.record_checked else \
            f"the leaf hash (said to be decision {self.decision_id}; without the record that is not checked)"
        out = (f"OK: {what} is record {self.leaf_index + 1} of the tree of {self.tree_size} "
               f"records signed by {self.origin}")
        if self.witnessed_at is not None:
            out += f", cosigned by the witness at unix time {self.witnessed_at}"
        return out


_FIELDS = {"format": str, "decision_id": str, "leaf_index": int, "tree_size": int, "inclusion": list,
           "checkpoint": str}


def _check_shape(bundle) -> None:
    """ProofError unless the bundle has every field a check reads, each of its type (whatever a file holds)."""
    if not isinstance(bundle, dict):
        raise ProofError("not a bundle: a bundle is a JSON object")
    if bundle.get("format") != FORMAT:
        raise ProofError(f"not an {FORMAT} bundle")
    for name, kind in _FIELDS.items():
        value = bundle.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ProofError(f"the bundle's {name} is missing or not a {kind.__name__}")
    if not all(isinstance(h, str) for h in bundle["inclusion"]):
        raise ProofError("the bundle's inclusion path is not a list of base64 hashes")
    if "record" in bundle:
        record = bundle["record"]
        if not (isinstance(record, dict) and isinstance(record.get("header"), str)
                and isinstance(record.get("payload"), str) and isinstance(bundle.get("record_hash"), str)):
            raise ProofError("the bundle's record is not a header and a payload with a record hash")
    elif not isinstance(bundle.get("leaf_hash"), str):
        raise ProofError("the bundle holds neither a record nor a leaf hash")


def check_bundle(data: bytes | dict, public: Ed25519PublicKey, witness: Ed25519PublicKey | None = None,
                 origin: str | None = None) -> ProofResult:
    """Verify a bundle offline; raises ProofError or NoteError with the reason. `origin`: the log the
    checkpoint must name (every log defaults to the same origin, so a key trusted for two logs
    would otherwise pass one log's proof as the other's)."""
    if isinstance(data, (bytes, bytearray)) and bytes(data[: len(compact.MAGIC)]) == compact.MAGIC:
        bundle = compact.decode(bytes(data))
    else:
        try:
            bundle = orjson.loads(data) if isinstance(data, (bytes, bytearray, str)) else data
        except orjson.JSONDecodeError as exc:
            raise ProofError(f"not a bundle: {exc}") from None
    _check_shape(bundle)
    if origin is not None and (named := note_origin(bundle["checkpoint"])) != origin:
        raise ProofError(f"the proof's checkpoint is signed as the log {named!r}, not {origin!r} (a proof from "
                         "another log)")
    head: TreeHead = open_checkpoint(bundle["checkpoint"], public)
    witnessed = verify_cosignature(bundle["checkpoint"], witness) if witness is not None else None
    if head.size != bundle["tree_size"]:
        raise ProofError("the bundle's tree size is not its checkpoint's")
    index = bundle["leaf_index"]
    if "record" in bundle:
        header, payload = bundle["record"]["header"], bundle["record"]["payload"].encode()
        try:
            fields = orjson.loads(header)
        except orjson.JSONDecodeError:
            fields = None
        if not isinstance(fields, list) or len(fields) < 4:
            raise ProofError("the record's header is not a record header")
        if fields[0] != index + 1 or fields[3] != bundle["decision_id"]:
            raise ProofError("the record is not the decision and place the bundle names")
        if hashlib.sha256(header.encode() + b"\n" + payload).hexdigest() != bundle["record_hash"]:
            raise ProofError("the record does not match its record hash")
        leaf = leaf_hash(entry(header, payload))
    else:
        leaf = base64.b64decode(bundle["leaf_hash"], validate=True)
    proof = [base64.b64decode(h, validate=True) for h in bundle["inclusion"]]
    verify_inclusion(index, head.size, leaf, proof, head.root)
    return ProofResult(bundle["decision_id"], index, head.size, head.origin, witnessed, "record" in bundle)


# Far above any real bundle (a record and at most 64 path hashes): check-proof reads no more than this.
MAX_BUNDLE_BYTES = 1 << 20

__all__ = ["FORMAT", "MAX_BUNDLE_BYTES", "NoteError", "ProofError", "ProofMissing", "ProofResult", "check_bundle",
           "make_bundle"]
