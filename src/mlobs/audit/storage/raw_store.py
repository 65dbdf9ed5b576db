"""The raw store under the chain: each raw payload is bound to its decision's record.

A raw row is only (seq, stored bytes). Its decision's record, which the chain and checkpoints
cover, holds the SHA-256 of those bytes (`raw_sha256`) and the subject's pseudonym; its expiry
is the record's time plus the retention setting, never a stored value anyone could move. So:
- a read refuses (and records) a row that is missing, swapped, altered or does not decrypt;
- a purge deletes the rows past their expiry and is itself a record (`raw_purge`);
- verify names the first raw row that is missing, inserted, swapped, altered or kept more
  than a day past its expiry (purge not running, or a row restored from a copy).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from datetime import datetime, timedelta
from bisect import bisect_right
from itertools import islice
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag

from mlobs.audit.background import start_thread
from mlobs.audit.keys.encryption import decrypt
from mlobs.audit.errors import RawRefused
from mlobs.audit.storage.purge_clock import STEP_S, PurgeClock, elapsed
from mlobs.audit.record import AUDIT_SERVICE, EVENT_RAW_ACCESS, EVENT_RAW_PURGE, Decision, format_ts, parse_ts
from mlobs.audit.verify import Problem

log = logging.getLogger(__name__)

_CHUNK = 10_000  # raw rows checked at a time: memory stays bounded whatever the store holds
# Raw payloads deleted per commit, at most: a backlog (purges off or failing for days) goes in many
# short commits, never in one that holds every decision up behind it past its timeout.
PURGE_CHUNK = 10_000
GRACE = timedelta(days=1)  # how long past its expiry verify tolerates a row (purges run hourly)


def retention(audit_log) -> timedelta:
    return timedelta(days=audit_log.settings.raw_retention_days)


def expires_at(record: dict, kept: timedelta) -> datetime:
    return parse_ts(record["ts"]) + kept


def read(audit_log, decision_id: str, *, reason: str, actor: str) -> Any | None:
    """The raw payload of a decision if still retained, else None (never recorded, expired,
    erased). Raises RawRefused if the row fails a check. Every read, served or not, is recorded."""
    records, problems = audit_log.query_checked(decision_id=decision_id, event_type="decision")
    record = records[0] if records else None
    pseudonym = record["subject"] if record else None
    value, why, refused = None, None, None
    if problems:
        refused = f"its decision's record is unreadable ({problems[0].what})"
    elif record is None:
        why = "no such decision"
    elif not record.get("raw_sha256"):
        why = "no raw payload was recorded"
    elif expires_at(record, retention(audit_log)) <= audit_log.retention_now():
        why = "expired"
    else:
        key = audit_log._keys.get(pseudonym) if pseudonym else None
        stored = audit_log.store.raw_get(record["seq"])
        if pseudonym and key is None:
            why = "the subject was erased"
        elif stored is None:
            refused = "missing from the raw store (deleted)"
        elif not isinstance(stored, (bytes, bytearray, memoryview)) or \
                hashlib.sha256(bytes(stored)).hexdigest() != record["raw_sha256"]:
            refused = "does not match the hash in its record (swapped or altered)"
        else:
            try:
                box = orjson.loads(bytes(stored))
                value = decrypt(key, box, decision_id.encode()) if pseudonym else box
            except (InvalidTag, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                refused = "does not decrypt under the subject's key (bad tag)"
    found = why is None and refused is None
    audit_log._record_access(EVENT_RAW_ACCESS, decision_id, pseudonym, actor, reason, found, why=refused or why)
    if refused is not None:
        raise RawRefused(f"raw payload of decision {decision_id} refused: {refused}")
    return value


def purge(audit_log, stop: threading.Event | None = None, now: datetime | None = None) -> int | None:
    """Delete every raw payload past its expiry at `now` (default: the log's clock), PURGE_CHUNK at a time,
    each deletion recorded (a `raw_purge` record) in its own commit, until done or `stop` is set; returns
    how many went. Nothing expired: nothing deleted, nothing recorded. None, doing nothing, while another
    purge of the log runs (a service's own and an operator's): both would record the same rows."""
    with audit_log.store.purging() as alone:
        return _purge(audit_log, stop, _checked_now(audit_log, audit_log._clock() if now is None else now)) \
            if alone else None


def _checked_now(audit_log, now: datetime) -> datetime:
    """`now`, or the database server's clock where that is earlier by a step: a host booted with its clock a
    year ahead (before NTP corrects it) or set forward purges nothing the server's clock keeps. A server on
    another host is the one second opinion a purge that just started has (SQLite has none)."""
    server = audit_log.store.server_now()
    if server is None or abs((now - server).total_seconds()) <= STEP_S:
        return now
    log.error("audit: this host's clock (%s) and the database server's (%s) disagree: purging only what expired "
              "by the earlier", format_ts(now), format_ts(server))
    return min(now, server)


def _purge(audit_log, stop: threading.Event | None, now: datetime) -> int:
    kept = retention(audit_log)
    before = format_ts(now - kept)
    done = 0
    while not (stop is not None and stop.is_set()) and (seqs := audit_log.store.raw_expired(before, PURGE_CHUNK)):
        record = Decision(
            service=AUDIT_SERVICE, model="", model_version="", output={"purged": len(seqs)},
            event_type=EVENT_RAW_PURGE,
            details={"recorded_before": before, "retention_days": audit_log.settings.raw_retention_days,
                     "first_seq": seqs[0], "last_seq": seqs[-1]},
        )
        # Stamped as every record is (the log's clock): the cutoff, which may go by another, is in its details.
        audit_log.record_purge(record, format_ts(audit_log._clock()), tuple(seqs))
        done += len(seqs)
    if done:
        audit_log.store.wipe_wal()  # the purged payloads' pages leave no copy in the WAL
    return done


class Purger:
    """On a thread of its own: purges every `every_s` (first after `first_s`; never when 0, for a log
    purged by `mlobs audit purge` from elsewhere), and every `look_s` notes the record time of the
    oldest raw payload still held, which `oldest_age_s` turns into an age without touching the store.
    A purge that fails, is off, or a thread that stalls all leave that age growing, so the raw store's
    retention is watched whatever stops it. Both go by a PurgeClock: a step of the wall clock neither
    purges early nor hides a payload kept late."""

    def __init__(self, audit_log, every_s: float, first_s: float = 60.0, look_s: float = 60.0,
                 monotonic=elapsed) -> None:
        self._log = audit_log
        self.clock = PurgeClock(audit_log._clock, monotonic)
        self._every = every_s
        self._first = min(first_s, every_s)
        self._look = look_s
        self._oldest: datetime | None = None  # None: nothing held, or not looked yet
        # The log's time of the last look that read the store; until one does, the watch's start (a store
        # it cannot read from the start shows a growing age, never the 0 of "nothing held").
        self._looked_at: datetime = self.clock.age_now()
        self._stop = threading.Event()
        self._thread = start_thread(self._run, "mlobs-audit-purge")

    def oldest_age_s(self, now: datetime) -> float:
        """Seconds since the oldest raw payload that may be held was recorded: the oldest one the last look
        saw, or, when it saw none (or none read the store yet), anything recorded since that look or the
        watch's start (so a watch that stopped looking, or cannot read the store, still shows a growing age)."""
        oldest, looked_at = self._oldest, self._looked_at
        since = oldest if oldest is not None else looked_at
        return max(0.0, (now - since).total_seconds())

    def _run(self) -> None:
        due = time.monotonic() + self._first if self._every > 0 else None
        while True:
            self._note_oldest()
            wait = self._look if due is None else min(self._look, max(0.0, due - time.monotonic()))
            if self._stop.wait(wait):
                return
            if due is not None and time.monotonic() >= due:
                due = time.monotonic() + self._every
                try:
                    self.purge()
                except Exception as exc:  # the next round tries again; reads refuse expired rows meanwhile
                    log.error("audit: raw purge failed: %s: %s", type(exc).__name__, exc)

    def purge(self) -> int | None:
        """One scheduled round: the log's purge, by the purge clock's time."""
        now, step = self.clock.purge_now(), self.clock.step_s()
        if self.clock.stepped():
            log.error("audit: the wall clock is %+.0f s from the time elapsed since the purge thread started "
                      "(it was stepped): purging only what expired by %s, the earlier of the two",
                      step, format_ts(now))
        purged = purge(self._log, self._stop, now)
        if purged is None:
            log.info("audit: raw purge skipped: another purge of this log is running")
        elif purged:
            log.info("audit: purged %d expired raw payloads", purged)
        return purged

    def _note_oldest(self) -> None:
        try:
            ts = self._log.store.raw_oldest_ts()
        except Exception as exc:  # kept: the age keeps growing from the last one seen
            log.error("audit: reading the oldest raw payload failed: %s: %s", type(exc).__name__, exc)
            return
        self._oldest, self._looked_at = (None if ts is None else parse_ts(ts)), self.clock.age_now()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def check(source, now: datetime, retention_days: float, marked: list[int]) -> Problem | None:
    """The first raw row (by seq) that is missing, inserted, swapped, altered or kept past its
    expiry, judged from the chained records alone. `source`: a row_checks.RowSource; `marked`:
    the seqs of records in the window whose payload names a raw payload (its sweep)."""
    try:
        return _check(source, now, timedelta(days=retention_days), marked)
    except Exception as exc:  # records too damaged to read this way: the chain check names them
        return Problem(None, None, f"raw store not checked: {type(exc).__name__}: {exc}")


def _records(source, seqs: list[int]) -> dict[int, dict]:
    columns = ("seq", "decision_id", "ts", "subject", "raw_sha256")
    return {row[0]: dict(zip(columns, row)) for row in source.raw_records(seqs) if row[4]}


def _row_problem(record: dict | None, stored, overdue: datetime, days: float) -> str | None:
    if record is None:
        return "raw row belongs to no decision that recorded one (inserted)"
    if not isinstance(stored, (bytes, bytearray, memoryview)) or \
            hashlib.sha256(bytes(stored)).hexdigest() != record["raw_sha256"]:
        return "raw row does not match the hash in its record (swapped or altered)"
    if parse_ts(record["ts"]) < overdue:
        return f"raw row kept past its expiry (retention {days:g} days): not purged, or restored"
    return None


def _check(source, now: datetime, kept: timedelta, marked: list[int]) -> Problem | None:
    """Raw rows and the window's marked records walked together by seq, a chunk at a time: the records
    of one chunk of rows, and of the marked seqs up to its last, are all that is held."""
    window = format_ts(now - kept)
    overdue = now - kept - GRACE
    days = kept.total_seconds() / 86400
    missing = _Missing(source, window)
    rows = source.raw_rows()
    at = 0  # marked[:at]: compared with the rows already
    while chunk := list(islice(rows, _CHUNK)):
        found = _records(source, [seq for seq, _ in chunk])
        first_bad = None
        for seq, stored in chunk:
            record = found.get(seq)
            what = _row_problem(record, stored, overdue, days)
            if what is not None:
                first_bad = Problem(seq, record and record["decision_id"], what)
                break
        last = chunk[-1][0] if first_bad is None else first_bad.seq
        end = bisect_right(marked, last, lo=at)
        held = {seq for seq, _ in chunk}
        gone = missing.first([seq for seq in marked[at:end] if seq not in held])
        if first_bad is not None or gone is not None:
            return min((p for p in (first_bad, gone) if p is not None), key=lambda p: p.seq)
        at = end
    return missing.first(marked[at:])


class _Missing:
    """The decisions within their retention whose raw row is not in the store: fine if their subject was
    erased, or if a purge the log records deleted it (an operator's retention shorter than the verifier's).
    What tells them apart is read once, when the first one is met."""

    def __init__(self, source, window: str) -> None:
        self._source, self._window = source, window
        self._erased: set[str] | None = None
        self._purged_before: str | None = None

    def first(self, seqs: list[int]) -> Problem | None:
        """The first of `seqs` (marked records with no raw row) that is a row deleted, a chunk at a time."""
        for lo in range(0, len(seqs), _CHUNK):
            records = _records(self._source, seqs[lo : lo + _CHUNK])
            for seq in sorted(records):
                record = records[seq]
                if record["ts"] < self._window:
                    continue
                if self._erased is None:
                    self._erased = self._source.erased_pseudonyms()
                    self._purged_before = self._source.purged_before()
                if record["subject"] in self._erased:
                    continue
                if self._purged_before is None or record["ts"] >= self._purged_before:
                    return Problem(seq, record["decision_id"], "raw row missing from the raw store (deleted)")
        return None
