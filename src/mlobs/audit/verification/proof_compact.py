"""The compact inclusion proof: the JSON bundle's content in binary, under 1 KB at 1,000,000 records.

An inclusion path at 1,000,000 records is 20 SHA-256 hashes (640 bytes); in base64 inside JSON
that alone is 856 characters, so a self-contained proof under 1 KB cannot be JSON text. This
form carries exactly what the JSON bundle does, in bytes, and leaves out only what the checker
recomputes: the checkpoint's root hash (the root the leaf and the path lead to; a wrong path
gives a root the log's signature does not cover) and the log key's name (the origin).

    b"MLIP" 0x02                         magic and version
    uvarint leaf index, uvarint tree size
    str decision id
    0x00 leaf hash (32 bytes)  |  0x01 str header, bytes payload, str record hash
    u8 n, n x 32-byte path hashes
    str origin, u8 flags (1: chain head as 32 bytes, 2: str time, 4: str chain head),
        uvarint n, n x str extension lines
    u8 n signatures: str name ("" for the origin), bytes key id || signature
str and bytes are a uvarint length and the bytes (UTF-8 for str). Decoding gives the JSON
bundle back, byte for byte the same checkpoint note, so one check serves both forms.
"""

from __future__ import annotations

import base64

from mlobs.audit.checkpoint_note import TreeHead, split
from mlobs.audit.merkle import ProofError, leaf_hash, root_from_inclusion
from mlobs.audit.storage.tree_store import entry

# The bundle this file decodes to, as `mlobs audit prove --json` writes it (mlobs.audit.verification.proofs).
FORMAT = "mlobs-audit-inclusion-v1"
MAGIC = b"MLIP\x02"
_CHAIN_RAW, _TIME, _CHAIN_TEXT = 1, 2, 4


def encode(bundle: dict) -> bytes:
    """The compact form of a JSON bundle (make_bundle's dict); ValueError if it would not decode back."""
    out = bytearray(MAGIC)
    _uvarint(out, bundle["leaf_index"])
    _uvarint(out, bundle["tree_size"])
    _str(out, bundle["decision_id"])
    if "record" in bundle:
        out.append(1)
        _str(out, bundle["record"]["header"])
        _bytes(out, bundle["record"]["payload"].encode())
        _str(out, bundle["record_hash"])
    else:
        out.append(0)
        out += _hash(bundle["leaf_hash"])
    path = bundle["inclusion"]
    out.append(len(path))
    for h in path:
        out += _hash(h)
    body, signatures = split(bundle["checkpoint"])
    head = TreeHead.parse(body)
    _str(out, head.origin)
    chain_raw = len(head.chain_head) == 64 and head.chain_head == head.chain_head.lower() and _is_hex(head.chain_head)
    out.append((_CHAIN_RAW if chain_raw else _CHAIN_TEXT if head.chain_head else 0) | (_TIME if head.time else 0))
    if chain_raw:
        out += bytes.fromhex(head.chain_head)
    elif head.chain_head:
        _str(out, head.chain_head)
    if head.time:
        _str(out, head.time)
    _uvarint(out, len(head.extra))
    for line in head.extra:
        _str(out, line)
    out.append(len(signatures))
    for sig in signatures:
        _str(out, "" if sig.name == head.origin else sig.name)
        _bytes(out, sig.key_id + sig.signature)
    data = bytes(out)
    if decode(data)["checkpoint"] != bundle["checkpoint"]:
        raise ValueError("the checkpoint does not round-trip through the compact form")
    return data


def decode(data: bytes) -> dict:
    """The JSON bundle a compact proof carries; ProofError if it is malformed."""
    if not data.startswith(MAGIC):
        raise ProofError("not a compact inclusion proof (bad magic)")
    r = _Reader(data, len(MAGIC))
    try:
        bundle: dict = {"format": FORMAT, "leaf_index": r.uvarint(), "tree_size": r.uvarint(),
                        "decision_id": r.str()}
        kind = r.u8()
        if kind == 1:
            header, payload = r.str(), r.bytes()
            bundle["record"] = {"header": header, "payload": payload.decode()}
            bundle["record_hash"] = r.str()
            leaf = leaf_hash(entry(header, payload))
        elif kind == 0:
            leaf = r.take(32)
            bundle["leaf_hash"] = base64.b64encode(leaf).decode()
        else:
            raise ProofError("unknown record kind in the compact proof")
        path = [r.take(32) for _ in range(r.u8())]
        bundle["inclusion"] = [base64.b64encode(h).decode() for h in path]
        origin, flags = r.str(), r.u8()
        chain = r.take(32).hex() if flags & _CHAIN_RAW else r.str() if flags & _CHAIN_TEXT else ""
        time = r.str() if flags & _TIME else ""
        extra = tuple(r.str() for _ in range(r.uvarint()))
        root = root_from_inclusion(bundle["leaf_index"], bundle["tree_size"], leaf, path)
        body = TreeHead(origin, bundle["tree_size"], root, chain, time, extra).body().decode()
        lines = []
        for _ in range(r.u8()):
            name, blob = r.str() or origin, r.bytes()
            lines.append(f"\u2014 {name} {base64.b64encode(blob).decode()}\n")
        if r.at != len(data):
            raise ProofError("trailing bytes after the compact proof")
    except (IndexError, UnicodeDecodeError) as exc:
        raise ProofError(f"truncated or malformed compact proof ({type(exc).__name__})") from None
    bundle["checkpoint"] = body + "\n" + "".join(lines)
    return bundle


class _Reader:
    def __init__(self, data: bytes, at: int) -> None:
        self.data, self.at = data, at

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise IndexError("past the end")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def uvarint(self) -> int:
        value = shift = 0
        while True:
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
            if shift > 63:
                raise IndexError("varint too long")

    def bytes(self) -> bytes:
        return self.take(self.uvarint())

    def str(self) -> str:
        return self.bytes().decode("utf-8")


def _uvarint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError("negative varint")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _bytes(out: bytearray, value: bytes) -> None:
    _uvarint(out, len(value))
    out += value


def _str(out: bytearray, value: str) -> None:
    _bytes(out, value.encode())


def _hash(text: str) -> bytes:
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("a proof hash is not 32 bytes")
    return raw


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
        return True
    except ValueError:
        return False
