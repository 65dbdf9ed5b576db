"""AuditLog: the one object a service holds. Appends go through the writer thread."""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from cryptography.exceptions import InvalidTag

from mlobs.audit.keys import subject_map
from mlobs.audit.storage import raw_store, row_checks
from mlobs.audit.storage.backends import open_store
from mlobs.audit.keys.encryption import decrypt
from mlobs.audit.errors import (
    AccessRefused,
    AuditError,
    AuditUnavailable,
    SubjectErased,
)
from mlobs.audit.verification.parallel_verify import checked_workers, verify_parallel
from mlobs.audit.keys.pseudonym import Keyring
from mlobs.audit.record import (
    AUDIT_SERVICE,
    EVENT_ERASURE,
    EVENT_PERSONAL_ACCESS,
    Decision,
    Receipt,
    format_ts,
    now_ts,
    parse_ts,
    utc_now,
)
from mlobs.audit.settings import AuditSettings
from mlobs.audit.keys.signing import Checkpoint, Signer, public_key_pem, read_checkpoint_file
from mlobs.audit.storage.store import AuditStore, Query
from mlobs.audit.strict import decode_row, decode_rows, fold
from mlobs.audit.keys.subject_keys import SubjectKeyStore
from mlobs.audit.tree_log import Checkpointer, open_tree
from mlobs.audit.verify import Problem, VerifyReport, verify_rows
from mlobs.audit.writer import Pending, Writer

_log = logging.getLogger(__name__)
PARALLEL_FROM = 200_000  # records; below this, starting processes costs more than it saves


def resolve_settings(settings: Any = None, base_dir: Path | None = None) -> AuditSettings:
    """AuditSettings with every path filled, from a process Settings, an AuditSettings or the environment."""
    if settings is None:
        from mlobs.settings import Settings

        settings = Settings()
    if isinstance(settings, AuditSettings):
        audit = settings
        base = base_dir
        if base is None and (audit.store_url is None or audit.keys_dir is None):
            from mlobs.settings import Settings

            base = Settings().artifacts_dir.parent / "audit"
    else:
        audit = settings.audit
        base = base_dir or settings.artifacts_dir.parent / "audit"
    return audit.resolved(base) if base is not None else audit


KEY_FILES = ("checkpoint_signing.pem", "pseudonym_keyring.json")


def _refuse_new_keys_beside_records(store: AuditStore, keys_dir: Path) -> None:
    """New keys are made for a new log only: beside records, a fresh signing key would sign heads no
    verifier trusts, and a fresh keyring would find no subject (an erasure that erases nothing)."""
    missing = [name for name in KEY_FILES if not (keys_dir / name).is_file()]
    if missing and store.head()[0] > 0:
        raise AuditError(f"the log holds {store.head()[0]} records but {keys_dir} has no {' or '.join(missing)}: "
                         "refusing to make new keys for it (restore its keys or set MLOBS_AUDIT__KEYS_DIR to them)")


class AuditLog:
    def __init__(
        self,
        settings: AuditSettings,
        store: AuditStore,
        keys: SubjectKeyStore,
        keyring: Keyring,
        signer: Signer,
        clock: Callable[[], datetime],
        read_only: bool = False,
    ) -> None:
        self.settings = settings
        self.store = store
        self.keyring = keyring
        self.signer = signer
        self._keys = keys
        self._clock = clock
        self._purger: raw_store.Purger | None = None
        self.read_only = read_only
        # Read-only opens (verify, query, export) neither build nor sign the tree.
        self.tree = None if read_only else open_tree(settings, store, signer)
        self._writer = Writer(
            store,
            keys,
            signer,
            queue_size=settings.queue_size,
            max_batch=settings.max_batch,
            checkpoint_every=settings.checkpoint_every,
            clock=clock,
            checkpoint_mirror=settings.checkpoint_mirror,
            tree=self.tree,
            sign_at_close=not read_only,
        )
        self._checkpointer = None if read_only else Checkpointer(self, settings.checkpoint_interval_s)

    @classmethod
    def open(
        cls,
        settings: Any = None,
        *,
        base_dir: Path | None = None,
        clock: Callable[[], datetime] = utc_now,
        store: AuditStore | None = None,
        read_only: bool = False,
    ) -> AuditLog:
        """Open (creating if needed) the store, the key store, the keyring and the signing key.
        read_only: for commands that only read; closing it signs nothing."""
        audit = resolve_settings(settings, base_dir)
        keys_dir = Path(audit.keys_dir)
        store = store or open_store(audit.store_url, audit.busy_timeout_s, audit.store_timeout_s)
        try:
            _refuse_new_keys_beside_records(store, keys_dir)
        except BaseException:
            store.close()
            raise
        return cls(
            audit,
            store,
            SubjectKeyStore(Path(audit.subject_keys_path), audit.busy_timeout_s, audit.subject_keys_merge_at),
            Keyring.load_or_create(keys_dir / "pseudonym_keyring.json"),
            Signer.load_or_create(keys_dir),
            clock,
            read_only,
        )

    # -- writing -------------------------------------------------------------------------------

    def submit(self, decision: Decision) -> Pending:
        """Queue a record; `.result()` / `await .wait()` give its Receipt once it is durable.
        Raises AuditUnavailable at once if the queue is full or the log closed."""
        _check_header(decision)
        if decision.time is None and self._clock is utc_now:
            ts = now_ts()
        else:
            ts = format_ts(decision.time or self._clock())
        key_id = lookup = None
        if decision.subject is not None:
            key_id, lookup = self.keyring.pseudonym(decision.subject)
        return self._writer.submit(Pending(decision, ts, key_id, lookup=lookup))

    def append(self, decision: Decision, timeout: float | None = None) -> Receipt:
        """Block until the record is durable. Raises AuditUnavailable: answer 503, never without a record."""
        return self._wait(self.submit(decision), timeout)

    async def append_async(self, decision: Decision) -> Receipt:
        """As append, without blocking the event loop; shares group commits with every other caller."""
        pending = self.submit(decision)
        try:
            return await pending.wait(self.settings.append_timeout_s)
        except TimeoutError:
            raise AuditUnavailable(f"audit record not durable within {self.settings.append_timeout_s} s") from None

    def _wait(self, pending: Pending, timeout: float | None = None) -> Any:
        timeout = self.settings.append_timeout_s if timeout is None else timeout
        try:
            return pending.result(timeout)
        except FutureTimeout:
            raise AuditUnavailable(f"audit record not durable within {timeout} s") from None

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head now (also done every checkpoint_every records and at close)."""
        return self._wait(self._writer.submit(Pending(None, format_ts(self._clock()), checkpoint=True)))

    # -- erasure, raw store, personal data -----------------------------------------------------

    def forget(self, subject: str, *, actor: str, reason: str = "data subject erasure request") -> Receipt:
        """Unlink and erase a subject: destroy the mapping from their raw id to their pseudonyms
        (under every keyring key), their encryption keys and their raw payloads, then record the
        erasure under their (now unlinkable) pseudonym. Their records stay, the chain still verifies,
        and the raw id no longer finds them. The writer resolves the pseudonyms in the erasure's
        own batch, so a decision queued just before it is erased too."""
        if not subject or not subject.strip():
            raise AuditError("forget needs the subject's id (it was empty)")
        record = Decision(
            service=AUDIT_SERVICE,
            model="",
            model_version="",
            output={"erased_keys_for": 0},  # filled in by the writer
            event_type=EVENT_ERASURE,
            details={"actor": actor, "reason": reason, "pseudonyms": []},
        )
        item = Pending(record, format_ts(self._clock()), self.keyring.active,
                       erase=tuple(subject_map.mapping_names(self.keyring, subject)))
        return self._wait(self._writer.submit(item))

    def read_raw(self, decision_id: str, *, reason: str, actor: str) -> Any | None:
        """The raw request payload of a decision, if still retained (None once expired or erased).
        Needs a stated reason, and the read is itself recorded (durably) before anything is
        returned. Raises RawRefused for a row that is missing, swapped, altered or does not
        decrypt (the refusal is recorded too)."""
        _require_reason(reason, actor)
        return raw_store.read(self, decision_id, reason=reason, actor=actor)

    def personal(self, decision_id: str, *, reason: str, actor: str) -> dict | None:
        """Decrypt a decision's personal inputs for an investigation (recorded). Raises SubjectErased."""
        return self.decrypted(decision_id, "personal", reason=reason, actor=actor)

    def decrypted(self, decision_id: str, field: str, *, reason: str, actor: str) -> Any | None:
        """Decrypt one subject-linked field of a decision ("personal", "model_inputs") for an
        investigation or a replay; the read is recorded first. None if the decision or the field
        is absent. Raises SubjectErased once the subject was forgotten, AuditError if it does not
        decrypt (the record or the key store was altered)."""
        _require_reason(reason, actor)
        rows = self.store.query(Query(decision_id=decision_id, event_type="decision"))
        if not rows:
            return None
        record = decode_row(rows[0])
        self._record_access(EVENT_PERSONAL_ACCESS, decision_id, record["subject"], actor, reason, True)
        box = record.get(field)
        if box is None or not record["subject"]:
            return box  # absent, or a decision about no one, kept in clear
        key = self._keys.get(record["subject"])
        if key is None:
            raise SubjectErased(f"decision {decision_id}: the subject's key was destroyed; {field} unreadable")
        try:
            return decrypt(key, box, decision_id.encode())
        except (InvalidTag, KeyError, TypeError, ValueError):
            raise AuditError(f"decision {decision_id}: {field} does not decrypt under the subject's key "
                             "(record or key store altered)") from None

    def _record_access(self, event: str, decision_id: str, pseudonym: str | None, actor: str, reason: str, found: bool,
                       why: str | None = None) -> None:
        record = Decision(
            service=AUDIT_SERVICE,
            model="",
            model_version="",
            output={"found": found, "why": why} if why else {"found": found},
            event_type=event,
            details={"actor": actor, "reason": reason, "target_decision_id": decision_id},
        )
        self._wait(self._writer.submit(Pending(record, format_ts(self._clock()), None, pseudonym)))

    def purge(self) -> int | None:
        """Delete raw payloads past their retention (the record's time plus raw_retention_days),
        recording the purge; returns how many went, or None while another purge of this log runs."""
        return raw_store.purge(self)

    def start_purging(self) -> None:
        """Purge on a schedule (raw_purge_interval_s; 0: never) and watch the oldest raw payload held,
        until close: what a service does."""
        if self._purger is None:
            self._purger = raw_store.Purger(self, self.settings.raw_purge_interval_s)

    def raw_oldest_age_s(self) -> float:
        """Seconds since the oldest raw payload held was recorded, as last seen (within a minute) by the
        thread start_purging started; NaN without it."""
        return math.nan if self._purger is None else self._purger.oldest_age_s(self.retention_now())

    def retention_now(self) -> datetime:
        """The time a raw payload's expiry is judged by when read or watched: the log's clock, or, while it
        purges, the later of that and the real time elapsed since start_purging (a wall clock stepped back
        serves no payload past its retention)."""
        return self._clock() if self._purger is None else self._purger.clock.age_now()

    def clock_step_s(self) -> float:
        """Seconds the wall clock runs ahead of (or, negative, behind) the time elapsed since start_purging,
        as its purges see it (mlobs.audit.storage.purge_clock); NaN without them."""
        return math.nan if self._purger is None else self._purger.clock.step_s()

    # -- reading -------------------------------------------------------------------------------

    def query(
        self,
        *,
        subject: str | None = None,
        decision_id: str | None = None,
        trace_id: str | None = None,
        model_version: str | None = None,
        outcome: str | None = None,
        event_type: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """Records as dicts (personal inputs stay encrypted). `subject` is the raw id: it is
        matched under every pseudonym key id, so records from before a key rotation are found.
        A stored row that is not a well-formed record is left out (and logged by its seq);
        `query_checked` returns such rows' problems too."""
        records, problems = self.query_checked(subject=subject, decision_id=decision_id, trace_id=trace_id,
                                               model_version=model_version, outcome=outcome, event_type=event_type,
                                               since=since, until=until, limit=limit)
        for problem in problems:
            _log.warning("audit: unreadable row left out of a query: %s", problem)
        return records

    def query_checked(self, *, subject: str | None = None, decision_id: str | None = None,
                      trace_id: str | None = None, model_version: str | None = None, outcome: str | None = None,
                      event_type: str | None = None, since: datetime | str | None = None,
                      until: datetime | str | None = None, limit: int | None = None,
                      seqs: list[int] | None = None) -> tuple[list[dict], list[Problem]]:
        """As query, and a Problem for each matching row that could not be read (never raises on one)."""
        q = Query(
            subjects=subject_map.pseudonyms(self._keys, self.keyring, subject) if subject is not None else None,
            decision_id=decision_id,
            trace_id=trace_id,
            model_version=model_version,
            outcome=outcome,
            event_type=event_type,
            since=_ts(since),
            until=_ts(until),
            limit=limit,
            seqs=seqs,
        )
        return decode_rows(self.store.query(q))

    def verify(
        self, extra_checkpoints: Iterable[Checkpoint] | Path | None = None, workers: int | None = None
    ) -> VerifyReport:
        """Recompute the chain and check every signed checkpoint, the store's and any kept elsewhere
        (a list, or a JSON-lines file such as the checkpoint mirror or an earlier export).
        Long logs are checked by `workers` processes (default: one per core from 200,000 records; at
        most four per core, ValueError beyond)."""
        if isinstance(extra_checkpoints, (str, Path)):
            extra_checkpoints = read_checkpoint_file(Path(extra_checkpoints))
        checkpoints = list(self.store.checkpoints()) + list(extra_checkpoints or [])
        head_seq = self.store.head()[0]
        if workers is None:
            workers = min(os.cpu_count() or 1, 8) if head_seq >= PARALLEL_FROM else 1
        checked_workers(workers)
        sqlite_path = getattr(self.store, "path", None)  # SQLite has a fast path, in this process too
        url = f"sqlite:///{sqlite_path}" if sqlite_path is not None else self.settings.store_url
        # The type and raw-store checks run in the database (without the GIL) while the chain is checked.
        now, days = self._clock(), self.settings.raw_retention_days
        with ThreadPoolExecutor(1, thread_name_prefix="mlobs-audit-sweep") as pool:
            rows = pool.submit(lambda: (row_checks.check(source := self.store.row_source(), now, days),
                                        row_checks.time_notes(source, now)))
            if head_seq >= workers and (workers > 1 or sqlite_path is not None):
                report = verify_parallel(url, head_seq, checkpoints, [self.signer.public], workers)
            else:
                report = verify_rows(self.store.iter_rows(), checkpoints, [self.signer.public])
            problem, notes = rows.result()
        report.notes += notes
        return fold(report, problem)

    def public_key_pem(self) -> bytes:
        return public_key_pem(self.signer.public)

    def stats(self) -> dict:
        """Counters for metrics: records, batches, failed_batches, rejected_full, checkpoints, commits, pending."""
        tree = self.tree.stats if self.tree is not None else {}
        return {**self._writer.stats, **tree, "commits": self.store.commits, "pending": self._writer.pending}

    def record_purge(self, record: Decision, ts: str, seqs: tuple[int, ...]) -> Receipt:
        """Record a purge whose commit also deletes the raw rows `seqs`; returns once durable."""
        return self._wait(self._writer.submit(Pending(record, ts, purge=seqs)))

    def close(self) -> None:
        """Flush what is queued, sign a final checkpoint (unless read-only), close the stores."""
        if self._purger is not None:
            self._purger.stop()
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._writer.close()
        if self.tree is not None:
            self.tree.close()
        self.store.close()
        self._keys.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_header(d: Decision) -> None:
    # Header fields are hashed as stored: a non-string would come back from the store as text.
    if (type(d.service) is str and type(d.model) is str and type(d.model_version) is str
            and type(d.decision_id) is str and type(d.event_type) is str
            and (d.trace_id is None or type(d.trace_id) is str) and (d.outcome is None or type(d.outcome) is str)
            and (d.subject is None or type(d.subject) is str)):
        return  # the common case, checked once per decision on the request path
    for name in ("service", "model", "model_version", "decision_id", "event_type"):
        if not isinstance(getattr(d, name), str):
            raise TypeError(f"Decision.{name} must be a str, got {type(getattr(d, name)).__name__}")
    for name in ("trace_id", "outcome", "subject"):
        value = getattr(d, name)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"Decision.{name} must be a str or None, got {type(value).__name__}")


def _require_reason(reason: str | None, actor: str | None) -> None:
    if not reason or not reason.strip():
        raise AccessRefused("reading personal or raw data needs a stated reason")
    if not actor or not actor.strip():
        raise AccessRefused("reading personal or raw data needs the reader's identity (actor)")


def _ts(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    return format_ts(parse_ts(value) if isinstance(value, str) else value)
