"""The versioned audit record and its canonical bytes.

A stored record is one row: the header columns below, a payload (canonical JSON bytes) and
the record's hash. hash = SHA-256(orjson.dumps(header) + b"\\n" + payload), hex. The header
holds the previous record's hash, so the rows form a chain that a verifier recomputes from
the stored bytes alone, without re-serialising the payload.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

import orjson

SCHEMA_VERSION = 1
GENESIS_HASH = "0" * 64

# Field order is part of the canonical form: never reorder, only add in a new schema version.
HEADER_COLUMNS = (
    "seq",
    "schema_version",
    "event_type",
    "decision_id",
    "ts",
    "service",
    "model",
    "model_version",
    "trace_id",
    "subject_key_id",
    "subject",
    "outcome",
    "prev_hash",
)
N_HEADER = len(HEADER_COLUMNS)
# What a store keeps per record: the header as its canonical JSON text (the store derives its
# query columns from it, so they cannot disagree with what is hashed), the payload bytes, the hash.
STORED_COLUMNS = ("seq", "header", "payload", "hash")
# Header fields the stores index or filter on, by position in the header array.
QUERY_FIELDS = {name: HEADER_COLUMNS.index(name) for name in
                ("event_type", "decision_id", "ts", "model_version", "trace_id", "subject", "outcome")}

EVENT_DECISION = "decision"
EVENT_ERASURE = "erasure"
EVENT_RAW_ACCESS = "raw_access"
EVENT_PERSONAL_ACCESS = "personal_access"
EVENT_RAW_PURGE = "raw_purge"
AUDIT_SERVICE = "mlobs.audit"  # the service of the log's own records (erasure, access, purge, key rotation)


def new_decision_id() -> str:
    """32 hex digits, time-ordered (48-bit milliseconds, then 80 random bits, as UUIDv7):
    new ids land at the end of the decision_id index instead of at random pages."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def format_ts(moment: datetime) -> str:
    """Fixed-width UTC text, so text order is time order in both backends."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    if moment.tzinfo is not timezone.utc:
        moment = moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="microseconds")[:26] + "Z"


def parse_ts(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


_second_prefix: tuple[int, str] = (-1, "")


def now_ts() -> str:
    """format_ts(utc_now()) at a tenth of the cost: the request path calls it once per decision."""
    global _second_prefix
    now = time.time()
    second = int(now)
    if _second_prefix[0] != second:
        _second_prefix = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_second_prefix[1]}.{int((now - second) * 1_000_000):06d}Z"


@dataclass
class Decision:
    """What a service logs for one prediction.

    `subject` is the raw subject id: it is pseudonymised before anything is stored.
    `inputs` must hold non-personal, minimised features only (stored in clear);
    `personal` holds personal inputs needed for investigations (encrypted per subject);
    `raw` is the raw request payload for the short-retention debugging store.
    The record carries a random pseudonym for the subject; only the erasable mapping in the
    subject key store links it to the raw id (see mlobs.audit.keys.subject_map).
    """

    service: str
    model: str
    model_version: str
    output: Any
    decision_id: str = field(default_factory=new_decision_id)
    subject: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    personal: dict[str, Any] | None = None
    outcome: str | None = None
    reason_codes: list[str] = field(default_factory=list)
    latency_ms: float | None = None
    trace_id: str | None = None
    raw: Any = None
    time: datetime | None = None
    event_type: str = EVENT_DECISION
    details: dict[str, Any] | None = None  # event-specific, e.g. an erasure's reason
    # The exact inputs the model saw: encrypted under the subject's key (they are the subject's),
    # and what `mlobs audit replay` recomputes the decision from.
    model_inputs: dict[str, Any] | None = None
    # SHA-256 of the model artifact's files (mlobs.artifacts.content_hash): replay loads that exact artifact.
    artifact_sha256: str | None = None


class Receipt(NamedTuple):
    """Proof that a record is durable: its place in the chain. (A named tuple: one is made per
    record on the writer's path, at half a frozen dataclass's cost.)"""

    seq: int
    decision_id: str
    hash: str


def header_text(header: tuple | list) -> str:
    return orjson.dumps(header).decode()


def entry(header: str | bytes, payload: bytes) -> bytes:
    """A record's leaf entry: the exact bytes its chain hash covers."""
    return (header.encode() if isinstance(header, str) else header) + b"\n" + bytes(payload)


def record_hash(header: str, payload: bytes) -> str:
    """SHA-256 over the header's canonical JSON text, a newline, and the payload bytes (hex)."""
    return hashlib.sha256(header.encode() + b"\n" + payload).hexdigest()


def row_to_dict(row: tuple | list) -> dict[str, Any]:
    """A stored row (STORED_COLUMNS) as a JSON-ready dict: header fields, hash, payload fields."""
    out = dict(zip(HEADER_COLUMNS, orjson.loads(row[1])))
    out["hash"] = row[3]
    out.update(orjson.loads(bytes(row[2])))
    return out
