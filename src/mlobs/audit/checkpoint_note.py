"""Tree heads as C2SP checkpoints (c2sp.org/tlog-checkpoint) in signed notes (c2sp.org/signed-note),
and witness cosignatures (c2sp.org/tlog-cosignature, cosignature/v1).

    mlobs.local/audit                       origin: the log's identity, also the key name
    6400                                    tree size, decimal
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=   root hash, base64
    mlobs-chain 0f3a...                     extension lines: the hash chain's head at this size
    mlobs-time 2026-01-01T00:00:00.000000Z  and the signing time
                                            blank line
    — mlobs.local/audit Az3grl...           signature lines: base64(key id || signature)

Key id = SHA-256(name || 0x0A || type || public key)[:4]; type 0x01 for an Ed25519 note
signature over the body (its final newline included), 0x04 for an Ed25519 cosignature over
"cosignature/v1\\ntime <unix seconds>\\n" + body, whose signature is an 8-byte big-endian
timestamp followed by the 64-byte Ed25519 signature.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
DASH = "\u2014 "
CHAIN_PREFIX = "mlobs-chain "
TIME_PREFIX = "mlobs-time "
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A note that is malformed, unsigned by the expected key, or whose signature fails."""


@dataclass(frozen=True)
class TreeHead:
    origin: str
    size: int
    root: bytes
    chain_head: str = ""  # hex hash of the record at `size` in the hash chain ("" if none)
    time: str = ""
    extra: tuple[str, ...] = field(default=())  # other extension lines, kept as read

    def body(self) -> bytes:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        if self.chain_head:
            lines.append(CHAIN_PREFIX + self.chain_head)
        if self.time:
            lines.append(TIME_PREFIX + self.time)
        lines += self.extra
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def parse(cls, body: bytes) -> TreeHead:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("checkpoint is not UTF-8") from None
        if not text.endswith("\n"):
            raise NoteError("checkpoint body does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or not all(lines):
            raise NoteError("a checkpoint needs an origin, a size and a root hash, each on a non-empty line")
        origin, size, root, *ext = lines
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise NoteError(f"checkpoint tree size {size!r} is not a decimal number")
        try:
            digest = base64.b64decode(root, validate=True)
        except ValueError:
            raise NoteError("checkpoint root hash is not base64") from None
        if len(digest) != 32:
            raise NoteError("checkpoint root hash is not 32 bytes")
        chain = time = ""
        extra = []
        for line in ext:
            if line.startswith(CHAIN_PREFIX) and not chain:
                chain = line.removeprefix(CHAIN_PREFIX)
            elif line.startswith(TIME_PREFIX) and not time:
                time = line.removeprefix(TIME_PREFIX)
            else:
                extra.append(line)
        return cls(origin, int(size), digest, chain, time, tuple(extra))


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, public: Ed25519PublicKey, sig_type: int = SIG_ED25519) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + raw_public(public)).digest()[:4]


def vkey(name: str, public: Ed25519PublicKey, sig_type: int = SIG_ED25519) -> str:
    """The verifier key text of the signed-note spec: name+hex(key id)+base64(type || key)."""
    material = base64.b64encode(bytes([sig_type]) + raw_public(public)).decode()
    return f"{name}+{key_id(name, public, sig_type).hex()}+{material}"


def fingerprint(public: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex: what a verifier may pin instead of the key file."""
    return hashlib.sha256(raw_public(public)).hexdigest()


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{DASH}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


def split(note: str | bytes) -> tuple[bytes, list[Signature]]:
    """The body (final newline included) and the signature lines of a signed note."""
    data = note.encode() if isinstance(note, str) else note
    cut = data.rfind(b"\n\n")
    if cut < 0:
        raise NoteError("not a signed note: no blank line before the signatures")
    body, sigs = data[: cut + 1], data[cut + 2 :]
    if not sigs.endswith(b"\n"):
        raise NoteError("signed note does not end with a newline")
    out = []
    for raw in sigs[:-1].split(b"\n"):
        line = raw.decode("utf-8", "replace")
        if not line.startswith(DASH):
            raise NoteError("malformed signature line")
        name, _, blob = line[len(DASH):].rpartition(" ")
        try:
            decoded = base64.b64decode(blob, validate=True)
        except ValueError:
            raise NoteError("signature line is not base64") from None
        if not name or len(decoded) < 5:
            raise NoteError("malformed signature line")
        out.append(Signature(name, decoded[:4], decoded[4:]))
    if len(out) > MAX_SIGNATURES:
        raise NoteError("too many signatures on one note")
    return body, out


class NoteSigner:
    """Signs tree heads as the log (name = origin) with an Ed25519 key."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        self.name = name
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id(name, self.public)

    def sign(self, head: TreeHead) -> str:
        body = head.body()
        signature = Signature(self.name, self.key_id, self._private.sign(body))
        return body.decode() + "\n" + signature.line()


def note_origin(note: str | bytes) -> str:
    """The origin line of a checkpoint, unverified: to name the log a note claims before trusting it."""
    return TreeHead.parse(split(note)[0]).origin


def open_checkpoint(note: str | bytes, public: Ed25519PublicKey, name: str | None = None) -> TreeHead:
    """The tree head of a checkpoint signed by `public` under the key name `name` (by default the
    checkpoint's own origin: the key id binds the two); raises NoteError otherwise."""
    body, signatures = split(note)
    if name is None:
        name = TreeHead.parse(body).origin
    want = key_id(name, public)
    for sig in signatures:
        if sig.name == name and sig.key_id == want:
            try:
                public.verify(sig.signature, body)
            except InvalidSignature:
                raise NoteError(f"the checkpoint's signature by {name} does not verify (forged or altered)") from None
            head = TreeHead.parse(body)
            if head.origin != name:
                raise NoteError(f"checkpoint origin {head.origin!r} is not the log {name!r}")
            return head
    raise NoteError(f"the checkpoint carries no signature by the trusted key of {name}")


def cosign(note: str, witness_name: str, private: Ed25519PrivateKey, timestamp: int) -> str:
    """The note with a cosignature/v1 line of the witness added."""
    body, _ = split(note)
    message = f"cosignature/v1\ntime {timestamp}\n".encode() + body
    sig = Signature(witness_name, key_id(witness_name, private.public_key(), SIG_COSIGNATURE_V1),
                    struct.pack(">Q", timestamp) + private.sign(message))
    return note + sig.line()


def verify_cosignature(note: str | bytes, public: Ed25519PublicKey, witness_name: str | None = None) -> int:
    """The time (unix seconds) at which the witness with key `public` (under `witness_name`, or
    any name whose key id matches) cosigned the note; raises NoteError."""
    body, signatures = split(note)
    for sig in signatures:
        if witness_name is not None and sig.name != witness_name:
            continue
        if sig.key_id == key_id(sig.name, public, SIG_COSIGNATURE_V1):
            if len(sig.signature) != 72:
                raise NoteError("malformed cosignature")
            (timestamp,) = struct.unpack(">Q", sig.signature[:8])
            message = f"cosignature/v1\ntime {timestamp}\n".encode() + body
            try:
                public.verify(sig.signature[8:], message)
            except InvalidSignature:
                raise NoteError(f"the cosignature of {sig.name} does not verify") from None
            return timestamp
    raise NoteError(f"the checkpoint carries no cosignature of witness {witness_name or fingerprint(public)[:16]}")


def cosigner_names(note: str | bytes, log_name: str) -> list[str]:
    """Names on the note's signature lines other than the log's own."""
    return [s.name for s in split(note)[1] if s.name != log_name]
