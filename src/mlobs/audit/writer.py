"""The writer thread: group commit of everything queued, one durable transaction per batch."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Callable, NamedTuple

import orjson

from mlobs.audit.background import start_thread
from mlobs.audit.keys.encryption import encrypt
from mlobs.audit.errors import AuditUnavailable
from mlobs.audit.record import SCHEMA_VERSION, Decision, Receipt, format_ts, header_text, record_hash
from mlobs.audit.keys.signing import Signer
from mlobs.audit.mirror import Mirror
from mlobs.audit.storage.store import AuditStore, Batch
from mlobs.audit.keys.subject_keys import KeyBatch, SubjectKeyStore
from mlobs.audit.keys.subject_map import mapping_name, pseudonym_of

log = logging.getLogger(__name__)

class _Prepared(NamedTuple):
    item: Pending
    index: int
    payload: bytes
    raw: bytes | None  # the raw payload as stored


class _Outcome:
    """One future for the outcomes of a group's records, and its copy per event loop."""

    __slots__ = ("future", "_loops")

    def __init__(self) -> None:
        self.future: Future = Future()
        # Running futures cannot be cancelled: one caller giving up must not cancel its neighbours.
        self.future.set_running_or_notify_cancel()
        self._loops: dict[asyncio.AbstractEventLoop, _LoopWait] = {}

    def for_loop(self, loop: asyncio.AbstractEventLoop) -> _LoopWait:
        """The outcomes as seen from `loop`, one per loop and group: a commit wakes an event
        loop once, however many of its requests the group holds. Only `loop` touches it."""
        waits = self._loops.get(loop)
        if waits is None:
            waits = self._loops[loop] = _LoopWait(loop)
            shared = waits.shared
            self.future.add_done_callback(lambda done: _settle_from_thread(loop, shared, done))
        return waits


class _LoopWait:
    """A group's outcomes on one event loop, and the callers there waiting for them, each with
    a future of its own (cancelling a caller cancels only that) and a deadline. One timer per
    group serves every deadline, soonest first: a timer armed and cancelled per record cost
    the event loop more than the rest of the record's handover."""

    __slots__ = ("loop", "shared", "waiters", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.shared: asyncio.Future = loop.create_future()
        self.waiters: list[tuple[float, asyncio.Future]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.shared.add_done_callback(self._wake_all)

    def waiter(self, timeout: float | None) -> asyncio.Future:
        """A future that is done when the group's outcomes are, or `timeout` seconds from now."""
        waiter = self.loop.create_future()
        if timeout is None:
            self.waiters.append((math.inf, waiter))
            return waiter
        deadline = self.loop.time() + timeout
        self.waiters.append((deadline, waiter))
        if self.timer is None or deadline < self.timer.when():
            if self.timer is not None:
                self.timer.cancel()
            self.timer = self.loop.call_at(deadline, self._expire)
        return waiter

    def _wake_all(self, _: object) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for _, waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.waiters.clear()

    def _expire(self) -> None:
        """Wake the callers whose deadline has come; the timer goes on for the others."""
        self.timer, now, waiting = None, self.loop.time(), []
        for deadline, waiter in self.waiters:
            if waiter.done():
                continue
            if deadline <= now:
                waiter.set_result(None)
            else:
                waiting.append((deadline, waiter))
        self.waiters = waiting
        soonest = min((deadline for deadline, _ in waiting), default=math.inf)
        if soonest < math.inf:
            self.timer = self.loop.call_at(soonest, self._expire)


class _Group:
    """Records that will share one commit."""

    __slots__ = ("items", "outcome")

    def __init__(self) -> None:
        self.items: list[Pending] = []
        self.outcome = _Outcome()


def _settle_from_thread(loop: asyncio.AbstractEventLoop, shared: asyncio.Future, done: Future) -> None:
    try:
        loop.call_soon_threadsafe(_settle, shared, done)
    except RuntimeError:  # the loop closed while its callers' records were being committed
        pass


def _settle(shared: asyncio.Future, done: Future) -> None:
    if not shared.done():
        shared.set_result(done.result())


class Pending:
    """One queued record (or, with decision None, a checkpoint request) and its place in a group
    commit: result() is its Receipt once durable, or raises. One object per record, no list of
    its own: queued records outlive young garbage collections, and every object they hold makes
    the collector's full passes come sooner. It does not point back at its group: no cycle, so
    reference counting frees it once its group is committed and its caller lets go."""

    __slots__ = ("decision", "ts", "subject_key_id", "pseudonym", "lookup", "erase", "purge", "checkpoint",
                 "_outcome", "_index")

    def __init__(
        self,
        decision: Decision | None,
        ts: str,
        subject_key_id: str | None = None,
        pseudonym: str | None = None,
        erase: tuple[str, ...] = (),  # mapping rows (subject_map) this record erases, with what they link
        checkpoint: bool = False,
        lookup: str | None = None,  # the keyring HMAC of the raw subject id: the writer maps it to a pseudonym
        purge: tuple[int, ...] = (),  # seqs whose raw payloads this record deletes (past their retention)
    ) -> None:
        self.purge = purge
        self.decision = decision
        self.ts = ts
        self.subject_key_id = subject_key_id
        self.pseudonym = pseudonym
        self.lookup = lookup
        self.erase = erase
        self.checkpoint = checkpoint
        self._outcome: _Outcome | None = None  # set when the writer queues it
        self._index = 0

    def done(self) -> bool:
        return self._outcome.future.done()

    def result(self, timeout: float | None = None):
        return self._unwrap(self._outcome.future.result(timeout)[self._index])

    async def wait(self, timeout: float | None = None):
        """Await without blocking the event loop. Raises TimeoutError after `timeout` seconds;
        giving up (or being cancelled) leaves the record and its neighbours in the group alone."""
        waits = self._outcome.for_loop(asyncio.get_running_loop())
        shared = waits.shared
        if not shared.done():
            # What asyncio.wait_for does, without a Task per call: a waiter of our own, woken
            # by the group or by the deadline, so cancelling this caller cancels only the waiter.
            await waits.waiter(timeout)
            if not shared.done():
                raise TimeoutError(f"audit record not durable within {timeout} s")
        return self._unwrap(shared.result()[self._index])

    def _unwrap(self, outcome):
        if type(outcome) is tuple:  # (seq, hash): the committer leaves making the Receipt to its caller
            return Receipt(outcome[0], self.decision.decision_id, outcome[1])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class Writer:
    def __init__(
        self,
        store: AuditStore,
        keys: SubjectKeyStore,
        signer: Signer,
        *,
        queue_size: int,
        max_batch: int,
        checkpoint_every: int,
        clock: Callable[[], datetime],
        checkpoint_mirror: Path | None = None,
        tree=None,  # mlobs.audit.tree_log.TreeLog: the Merkle tree and its signed heads
        sign_at_close: bool = True,
    ) -> None:
        self._store = store
        self._tree = tree
        self._sign_at_close = sign_at_close
        self._keys = keys
        self._signer = signer
        self._queue_size = queue_size
        self._max_batch = max_batch
        self._every = checkpoint_every
        self._clock = clock
        self._mirror = Mirror(checkpoint_mirror) if checkpoint_mirror is not None else None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._groups: deque[_Group] = deque()
        self._pending = 0
        self._closed = False
        self.stats = {"records": 0, "batches": 0, "failed_batches": 0, "rejected_full": 0, "checkpoints": 0}
        # Two stages, so that SQLite's work on one group (done without the GIL) overlaps the
        # Python work of preparing the next: the preparer finds subject keys and encrypts, the
        # committer chains, inserts and commits, one group at a time and in order.
        self._prepared: queue.Queue = queue.Queue(maxsize=1)
        self._idle = threading.Event()  # the committer has nothing to do
        self._idle.set()
        self._committer = start_thread(self._commit_loop, "mlobs-audit-committer")
        self._thread = start_thread(self._run, "mlobs-audit-writer")

    def submit(self, pending: Pending) -> Pending:
        """Queue a record (or a checkpoint request) in the group that will commit it."""
        with self._lock:
            if self._closed:
                raise AuditUnavailable("audit log is closed")
            if self._pending >= self._queue_size:
                self.stats["rejected_full"] += 1
                raise AuditUnavailable(f"audit queue full ({self._pending} records pending)")
            groups = self._groups
            if not groups or len(groups[-1].items) >= self._max_batch:
                groups.append(_Group())
            group = groups[-1]
            pending._outcome, pending._index = group.outcome, len(group.items)
            group.items.append(pending)
            self._pending += 1
        if not self._wake.is_set():  # setting a set Event still takes its lock and notifies
            self._wake.set()
        return pending

    @property
    def pending(self) -> int:
        return self._pending

    def close(self, timeout: float = 30.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        self._committer.join(max(0.0, deadline - time.monotonic()))
        if self._mirror is not None:
            self._mirror.close(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        while True:
            self._wake.wait()
            # Self-clocking group commit: a group that is not full keeps growing until the
            # committer is free, then goes whole. Under load the group holds what arrived during
            # the previous commit, so it grows with the commit's latency; a lone caller finds the
            # committer idle and goes at once. No fixed wait: nothing caps throughput at
            # callers / wait.
            with self._lock:
                head = self._groups[0] if self._groups else None
            if head is None or len(head.items) < self._max_batch:
                self._idle.wait()
            with self._lock:
                group = self._groups.popleft() if self._groups else None
                if not self._groups and not self._closed:  # close()'s wake-up must outlive this group
                    self._wake.clear()
                closing = self._closed and group is None
            if closing:
                break
            if group is not None:
                self._idle.clear()
                self._prepared.put((group, self._stage(group.items)))
        self._prepared.put(None)

    def _commit_loop(self) -> None:
        while (job := self._prepared.get()) is not None:
            group, (prepared, outcomes) = job
            try:
                outcomes = self._commit(prepared, outcomes)
            except Exception as exc:  # a bug here must not leave callers waiting
                log.error("audit: writer error: %s", type(exc).__name__)
                outcomes = [AuditUnavailable(f"audit writer error: {type(exc).__name__}")] * len(group.items)
            with self._lock:  # pending until committed: queue_size bounds every record not yet durable
                self._pending -= len(group.items)
            group.outcome.future.set_result(outcomes)
            if self._prepared.empty():
                self._idle.set()
        if self._sign_at_close:
            self._final_checkpoint()

    def _final_checkpoint(self) -> None:
        try:
            seq, hash_ = self._store.head()
            if seq and not any(c.seq == seq for c in self._store.checkpoints()[-1:]):
                self._flush([Pending(None, format_ts(self._clock()), checkpoint=True)])
        except Exception as exc:  # closing must not raise from a daemon thread
            log.error("audit: final checkpoint failed: %s", type(exc).__name__)

    def _flush(self, items: list[Pending]) -> list:
        """Write one group; returns each item's outcome ((seq, hash), Checkpoint or an exception), in order."""
        return self._commit(*self._stage(items))

    def _stage(self, items: list[Pending]) -> tuple[list[_Prepared] | None, list]:
        """The preparer's half: keys and encryption. A failure here fails the whole group."""
        outcomes: list = [None] * len(items)
        try:
            return self._prepare(items, outcomes), outcomes
        except Exception as exc:
            return None, self._failed(items, outcomes, exc)

    def _failed(self, items: list, outcomes: list, exc: Exception) -> list:
        self.stats["failed_batches"] += 1
        # Type and message only: store errors never carry record values.
        log.error("audit: batch of %d records not written: %s: %s", len(items), type(exc).__name__, exc)
        message = f"audit store failed: {type(exc).__name__}: {exc}"
        # An AuditUnavailable of a kind (the tree's IntegrityFailure) reaches callers as that kind.
        kind, message = (type(exc), str(exc)) if isinstance(exc, AuditUnavailable) else (AuditUnavailable, message)
        return [o if o is not None else kind(message) for o in outcomes]

    def _commit(self, prepared: list[_Prepared] | None, outcomes: list) -> list:
        """The committer's half: chain, insert and commit durably, then each item's outcome."""
        if not prepared:
            return outcomes
        try:
            forced = any(p.item.checkpoint for p in prepared)
            batch = self._store.write(lambda seq, prev: self._build(prepared, seq, prev, forced))
        except Exception as exc:
            if self._tree is not None:
                self._tree.aborted()
            return self._failed(prepared, outcomes, exc)
        if self._tree is not None:
            self._tree.committed()
        self.stats["batches"] += 1
        self.stats["records"] += len(batch.records)
        if batch.checkpoint is not None:
            self.stats["checkpoints"] += 1
            if self._mirror is not None:
                self._mirror.put(batch.checkpoint)
        rows = iter(batch.records)
        for p in prepared:
            if p.item.decision is None:
                outcomes[p.index] = batch.checkpoint
            else:
                row = next(rows)
                # A plain tuple of a number and a string: the collector stops tracking it at once.
                outcomes[p.index] = (row[0], row[3])
        return outcomes

    def _prepare(self, items: list[Pending], outcomes: list) -> list[_Prepared]:
        """Keys first (durable before any record that depends on them), then encryption, outside the DB lock."""
        batch = self._keys.begin()
        maps = {mapping_name(i.lookup) for i in items if i.lookup is not None}
        batch.prefetch(maps)
        batch.prefetch({pseudonym_of(m) for name in maps if (m := batch.peek(name)) is not None})
        keyed: list[bytes | None] = []
        mapped: dict[int, bytes] = {}  # item index -> the mapping it used
        # In order: a key destroyed mid-batch is never written, a later record gets a fresh one.
        for index, item in enumerate(items):
            d = item.decision
            if item.erase:
                _erase(batch, item)
            fresh = False
            if item.lookup is not None and d is not None:
                name = mapping_name(item.lookup)
                mapped[index] = batch.key_for(name)
                item.pseudonym = pseudonym_of(mapped[index])
                fresh = name in batch.new  # a subject first seen in this batch: a pseudonym just drawn
            needs_key = d is not None and item.pseudonym and (
                d.personal is not None or d.raw is not None or d.model_inputs is not None)
            keyed.append(batch.key_for(item.pseudonym, made_here=fresh) if needs_key else None)
        replaced = batch.commit()
        for index, mapping in mapped.items():
            if replaced.get(mapping, mapping) != mapping:  # another process mapped this new subject first
                outcomes[index] = AuditUnavailable("another process recorded this subject's first decision at "
                                                   "the same moment; retry")

        prepared = []
        nonces = os.urandom(36 * len(items))  # one system call per batch, not three per record
        for index, (item, key) in enumerate(zip(items, keyed)):
            d = item.decision
            if d is None:
                prepared.append(_Prepared(item, index, b"", None))
                continue
            if outcomes[index] is not None:
                continue
            cipher = None
            if key is not None:
                key = replaced.get(key, key)
                cipher = self._keys.cipher(key)
            aad = d.decision_id.encode()
            nonce_a, nonce_b, nonce_c = (nonces[36 * index + 12 * k : 36 * index + 12 * (k + 1)] for k in range(3))
            try:
                raw = None
                if d.raw is not None:
                    if cipher is not None:
                        raw = orjson.dumps(encrypt(cipher, d.raw, aad, nonce_b))
                    else:
                        raw = orjson.dumps(d.raw, option=orjson.OPT_SERIALIZE_NUMPY)
                body = {"inputs": d.inputs, "output": d.output, "reason_codes": list(d.reason_codes)}
                if raw is not None:
                    # The raw payload's hash is chained with its decision: a raw row swapped,
                    # altered or restored after deletion no longer matches (raw_store).
                    body["raw_sha256"] = hashlib.sha256(raw).hexdigest()
                if d.latency_ms is not None:
                    body["latency_ms"] = d.latency_ms
                if d.personal is not None:
                    body["personal"] = encrypt(cipher, d.personal, aad, nonce_a) if cipher else None
                if d.details is not None:
                    body["details"] = d.details
                if d.model_inputs is not None:
                    # Exact inputs are the subject's: encrypted under their key (in clear only
                    # for a decision about no one), and what replay recomputes the decision from.
                    body["model_inputs"] = encrypt(cipher, d.model_inputs, aad, nonce_c) if cipher else (
                        None if item.pseudonym else d.model_inputs)
                if d.artifact_sha256 is not None:
                    body["artifact_sha256"] = d.artifact_sha256
                payload = orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
            except TypeError as exc:
                outcomes[index] = TypeError(f"audit record {d.decision_id} is not JSON-serialisable: {exc}")
                continue
            prepared.append(_Prepared(item, index, payload, raw))
        return prepared

    def _build(self, prepared: list[_Prepared], seq: int, prev: str, force_checkpoint: bool) -> Batch:
        batch = Batch()
        start, start_prev = seq, prev
        owners: dict[int, str | None] = {}  # raw payloads of this batch: seq -> pseudonym
        for p in prepared:
            item, d = p.item, p.item.decision
            if d is None:
                continue
            seq += 1
            header = (
                seq,
                SCHEMA_VERSION,
                d.event_type,
                d.decision_id,
                item.ts,
                d.service,
                d.model,
                d.model_version,
                d.trace_id,
                item.subject_key_id,
                item.pseudonym,
                d.outcome,
                prev,
            )
            text = header_text(header)
            prev = record_hash(text, p.payload)
            batch.records.append((seq, text, p.payload, prev))
            if p.raw is not None:
                batch.raws.append((seq, p.raw))
                owners[seq] = item.pseudonym
            if item.erase:
                # Raw payloads queued before the erasure in this batch go too; later ones stay.
                erased = set(item.erase)
                batch.raws = [r for r in batch.raws if owners[r[0]] not in erased]
                batch.raw_erase.extend(item.erase)
            if item.purge:
                batch.raw_delete.extend(item.purge)
        due = bool(seq) and (force_checkpoint or seq // self._every > start // self._every)
        if self._tree is not None:  # signs only a tree head proven consistent with the last one
            due = self._tree.build(batch, start, start_prev, due, format_ts(self._clock()))
        if due:
            batch.checkpoint = self._signer.sign(seq, prev, format_ts(self._clock()))
        return batch


def _erase(batch: KeyBatch, item: Pending) -> None:
    """An erasure's mappings and what they link, destroyed in its batch; the record names the
    pseudonyms it erased (its subject the first of them), never the raw id."""
    erased = []
    for name in item.erase:
        mapped = batch.peek(name)
        if mapped is not None:
            erased.append(pseudonym_of(mapped))
            batch.destroy(pseudonym_of(mapped))
        batch.destroy(name)
    item.erase = tuple(erased)
    item.pseudonym = erased[0] if erased else None
    item.decision.details["pseudonyms"] = erased
    item.decision.output = {"erased_keys_for": len(erased)}
