"""Chain and checkpoint verification: finds and names the first bad record.

A chain segment can be checked on its own (its first record's prev_hash taken on trust and
returned), so a long log is checked by several processes and the segments stitched together.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from typing import Iterable

import orjson

from mlobs.audit.record import GENESIS_HASH
from mlobs.audit.keys.signing import Checkpoint, signature_ok
from mlobs.audit.time_steps import TimeSteps

_TIMES_EVERY = 10_000  # headers held at a time for the record-time scan


@dataclass
class Problem:
    seq: int | None
    decision_id: str | None
    what: str

    def __str__(self) -> str:
        where = f"record seq {self.seq}" if self.seq is not None else "log"
        if self.decision_id:
            where += f" (decision {self.decision_id})"
        return f"{where}: {self.what}"


@dataclass
class VerifyReport:
    ok: bool
    records: int
    head_seq: int
    head_hash: str
    checkpoints_checked: int
    problem: Problem | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        lines = [
            "Audit log verification: " + ("OK" if self.ok else "FAILED"),
            f"records checked: {self.records}",
            f"head: seq {self.head_seq}, hash {self.head_hash}",
            f"signed checkpoints checked: {self.checkpoints_checked}",
        ]
        if self.problem is not None:
            lines.append(f"first bad: {self.problem}")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


@dataclass
class Segment:
    """What checking one run of consecutive records found."""

    count: int = 0
    first_prev: str | None = None  # the first record's prev_hash, for stitching
    last_hash: str = GENESIS_HASH
    last_good_checkpoint: int = 0
    problem: Problem | None = None
    times: TimeSteps = field(default_factory=TimeSteps)


def check_signatures(
    checkpoints: Iterable[Checkpoint], public_keys: list
) -> tuple[dict[int, str], int, Problem | None]:
    """{seq: hash} of validly signed checkpoints, how many were read, and the first bad one."""
    pinned: dict[int, str] = {}
    n = 0
    for cp in checkpoints:
        n += 1
        if not signature_ok(cp, public_keys):
            what = f"checkpoint at seq {cp.seq} has no valid signature (forged or altered)"
            return pinned, n, Problem(cp.seq, None, what)
        if pinned.get(cp.seq, cp.hash) != cp.hash:
            what = f"two validly signed checkpoints disagree at seq {cp.seq}: signing key misused"
            return pinned, n, Problem(cp.seq, None, what)
        pinned[cp.seq] = cp.hash
    return pinned, n, None


def check_segment(rows: Iterable[tuple], pinned: dict[int, str], start_seq: int = 1,
                  start_prev: str | None = GENESIS_HASH) -> Segment:
    """Rows (seq, header text, payload bytes, hash) ordered by seq, expected to start at start_seq.
    With start_prev None the first record's prev_hash is accepted and returned for stitching."""
    sha256 = hashlib.sha256
    out = Segment(first_prev=start_prev)
    expected, prev = start_seq, start_prev
    headers: list[str] = []
    for seq, header, payload, stored_hash in rows:
        if len(headers) == _TIMES_EVERY:
            out.times.scan(expected - len(headers), headers)
            headers = []
        if seq != expected:
            if seq > expected:
                what = f"missing: the log goes from seq {expected - 1} to seq {seq} (records deleted)"
                out.problem = Problem(expected, None, what)
            else:
                what = f"out of order: expected seq {expected}, found seq {seq} (records reordered or duplicated)"
                out.problem = Problem(seq, _decision_id(header), what)
            return out
        digest = sha256(header.encode() + b"\n" + payload).hexdigest()
        if digest != stored_hash:
            out.problem = Problem(seq, _decision_id(header), "content does not match its stored hash (record edited)")
            return out
        # The header is canonical JSON: it opens with its seq and closes with the previous hash.
        linked = header[-66:-2]
        if prev is None:
            prev = out.first_prev = linked
        if linked != prev:
            what = f"prev_hash does not match the hash of record {seq - 1} (a record was inserted, removed or replaced)"
            out.problem = Problem(seq, _decision_id(header), what)
            return out
        if not header.startswith(f"[{seq},"):
            out.problem = Problem(seq, _decision_id(header), "its header carries another seq (records reordered)")
            return out
        pin = pinned.get(seq)
        if pin is not None:
            if pin != digest:
                since = f"seq {out.last_good_checkpoint}" if out.last_good_checkpoint else "the previous checkpoint"
                what = f"contradicts the signed checkpoint at seq {seq}: the chain after {since} was rewritten"
                out.problem = Problem(seq, _decision_id(header), what)
                return out
            out.last_good_checkpoint = seq
        prev = digest
        headers.append(header)
        expected += 1
        out.count += 1
    out.times.scan(expected - len(headers), headers)
    out.last_hash = prev if prev is not None else GENESIS_HASH
    return out


def verify_rows(rows: Iterable[tuple], checkpoints: Iterable[Checkpoint], public_keys: list) -> VerifyReport:
    """Check a whole log in this process. Checkpoints from the store and from any file kept
    elsewhere; each must carry a valid signature from one of public_keys."""
    started = time.perf_counter()
    pinned, n_checkpoints, problem = check_signatures(checkpoints, public_keys)
    if problem is not None:
        return _report(0, GENESIS_HASH, n_checkpoints, started, problem)
    segment = check_segment(rows, pinned)
    return finish([segment], pinned, n_checkpoints, started)


def finish(segments: list[Segment], pinned: dict[int, str], n_checkpoints: int, started: float,
           bounds: list[tuple[int, int]] | None = None) -> VerifyReport:
    """Stitch consecutive segments, check truncation against the checkpoints, report."""
    prev, count, last_good, times = GENESIS_HASH, 0, 0, TimeSteps()
    for i, segment in enumerate(segments):
        lo = bounds[i][0] if bounds else 1
        times = times.then(segment.times, lo)
        if segment.problem is not None and segment.problem.seq == lo:
            return _report(count, prev, n_checkpoints, started, segment.problem)
        if segment.count and segment.first_prev != prev:
            what = f"prev_hash does not match the hash of record {lo - 1} (a record was inserted, removed or replaced)"
            return _report(count, prev, n_checkpoints, started, Problem(lo, None, what))
        if segment.problem is not None:
            return _report(count + segment.count, prev, n_checkpoints, started, segment.problem)
        if bounds and segment.count != bounds[i][1] - lo + 1:
            what = f"missing: records from seq {lo + segment.count} on are absent"
            return _report(count, prev, n_checkpoints, started, Problem(lo + segment.count, None, what))
        count += segment.count
        prev = segment.last_hash if segment.count else prev
        last_good = max(last_good, segment.last_good_checkpoint)
    if pinned and max(pinned) > count:
        top = max(pinned)
        what = (f"truncated: the log ends at seq {count} but a signed checkpoint covers seq {top}"
                f" (records {count + 1}..{top} removed)")
        return _report(count, prev, n_checkpoints, started, Problem(count + 1, None, what))
    report = _report(count, prev, n_checkpoints, started, None)
    if times.note():
        report.notes.append(times.note())
    if count > last_good:
        report.notes.append(
            f"records after seq {last_good} are covered by the chain only, not yet by a signed checkpoint"
        )
    return report


def _decision_id(header: str) -> str | None:
    try:
        return orjson.loads(header)[3]
    except (orjson.JSONDecodeError, IndexError, TypeError):
        return None


def _report(count: int, prev: str, n_checkpoints: int, started: float, problem: Problem | None) -> VerifyReport:
    return VerifyReport(problem is None, count, count, prev, n_checkpoints, problem, time.perf_counter() - started)
