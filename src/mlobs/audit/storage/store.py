"""What the writer, the verifier and the query side need from a backend (`backends.open_store(url)` opens one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable, ContextManager, Iterator, Protocol

from mlobs.audit.record import QUERY_FIELDS, STORED_COLUMNS
from mlobs.audit.keys.signing import Checkpoint

if TYPE_CHECKING:
    from mlobs.audit.storage.row_checks import RowSource


@dataclass
class Batch:
    """Everything one group commit writes, in one transaction."""

    records: list[tuple] = field(default_factory=list)  # (seq, header text, payload, hash)
    raws: list[tuple] = field(default_factory=list)  # (seq of the decision's record, stored payload bytes)
    raw_erase: list[str] = field(default_factory=list)  # pseudonyms whose raw payloads go now
    raw_delete: list[int] = field(default_factory=list)  # seqs whose raw payloads go now (a purge)
    checkpoint: Checkpoint | None = None
    tree_nodes: list[tuple] = field(default_factory=list)  # (node id, hash): mlobs.audit.storage.tree_store
    tree_note: tuple[int, str] | None = None  # (tree size, signed checkpoint note)


@dataclass
class Query:
    """Filters for `AuditStore.query`; subjects are pseudonyms (every key id of one raw id)."""

    subjects: list[str] | None = None
    decision_id: str | None = None
    trace_id: str | None = None
    model_version: str | None = None
    outcome: str | None = None
    event_type: str | None = None
    since: str | None = None  # formatted ts, inclusive
    until: str | None = None  # formatted ts, exclusive
    limit: int | None = None
    seqs: list[int] | None = None

    def where(self, mark: str, column=str) -> tuple[str, list]:
        """WHERE text and parameters; column(name) gives the SQL for a query field."""
        clauses, params = [], []
        if self.subjects is not None:
            if not self.subjects:
                return " WHERE 1 = 0", []
            clauses.append(f"{column('subject')} IN ({', '.join([mark] * len(self.subjects))})")
            params += self.subjects
        for name in ("decision_id", "trace_id", "model_version", "outcome", "event_type"):
            value = getattr(self, name)
            if value is not None:
                clauses.append(f"{column(name)} = {mark}")
                params.append(value)
        if self.seqs is not None:
            clauses.append(f"seq IN ({', '.join([mark] * len(self.seqs))})" if self.seqs else "1 = 0")
            params += self.seqs
        if self.since is not None:
            clauses.append(f"{column('ts')} >= {mark}")
            params.append(self.since)
        if self.until is not None:
            clauses.append(f"{column('ts')} < {mark}")
            params.append(self.until)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


class AuditStore(Protocol):
    commits: int

    def write(self, build: Callable[[int, str], Batch]) -> Batch:
        """In one durable transaction holding the chain lock: build(head_seq, head_hash), then insert."""

    def head(self) -> tuple[int, str]: ...

    def iter_rows(self, chunk: int = 10_000) -> Iterator[tuple]: ...

    def query(self, query: Query) -> list[tuple]: ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def raw_get(self, seq: int) -> bytes | None:
        """The stored raw payload of the decision recorded at seq."""

    def raw_expired(self, before_ts: str, limit: int) -> list[int]:
        """Seqs of raw payloads whose decision was recorded before before_ts, the lowest `limit` of them."""

    def row_source(self) -> RowSource:
        """The records and raw rows as verify's row checks (types, raw store) read them."""

    def server_now(self) -> datetime | None:
        """The database server's clock, a second opinion on this host's for purges; None without a server."""

    def purging(self) -> ContextManager[bool]:
        """`with store.purging() as alone:` whether no other purge of this log runs, in any process; if
        so, none starts until the block ends."""

    def close(self) -> None: ...


SELECT_COLUMNS = ", ".join(STORED_COLUMNS)
INSERT_COLUMNS = SELECT_COLUMNS


def query_column_ddl(extract: str, kind: str) -> str:
    """Generated query columns: extract.format(i) reads header field i."""
    return ",\n".join(
        f"    {name} TEXT GENERATED ALWAYS AS ({extract.format(i)}) {kind}" for name, i in QUERY_FIELDS.items()
    )
