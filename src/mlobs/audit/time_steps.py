"""Where a log's record times go back: the writer's wall clock stepped back (an NTP correction, a host
booted with a wrong clock, an operator). Read during the chain check from the header bytes it already
holds (the time is the header's fifth field; no JSON is parsed unless two times are out of order), so
that noticing costs the check next to nothing. A note, not a failure: the chain proves order by seq,
and a corrected clock is not a forged log; an auditor reading "decided at" near there is told so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mlobs.audit.record import QUERY_FIELDS

STEPPED_S = 60.0  # seq order trails time order by a queue's worth of milliseconds, never by a minute
_TS = QUERY_FIELDS["ts"]


@dataclass
class TimeSteps:
    """The record times of a run of consecutive records: its first and last, and its steps back."""

    first_ts: str = ""
    last_ts: str = ""
    back_seq: int = 0  # the first record stamped more than STEPPED_S before the one before it
    back_ts: str = ""
    back_prev: str = ""
    back_count: int = 0

    def scan(self, first_seq: int, headers: list) -> None:
        """Take the times of records first_seq, first_seq + 1, ... (their headers, str or bytes), in order.
        Times are compared as written (a fixed-width ISO 8601 form sorts as time does): only a pair out of
        order is parsed."""
        if not headers:
            return
        raw = [_field(h) for h in headers]
        first = _text(raw[0])
        if self.last_ts and first < self.last_ts and stepped_back(self.last_ts, first):
            self._back(first_seq, first, self.last_ts)
        for i in [i for i in range(1, len(raw)) if raw[i] < raw[i - 1]]:
            ts, prev = _text(raw[i]), _text(raw[i - 1])
            if stepped_back(prev, ts):
                self._back(first_seq + i, ts, prev)
        self.first_ts = self.first_ts or first
        self.last_ts = _text(raw[-1])

    def then(self, later: TimeSteps, later_first_seq: int) -> TimeSteps:
        """These times followed by `later`'s, whose first record is later_first_seq."""
        out = TimeSteps(**vars(self))
        first, last = later.first_ts, out.last_ts
        if last and first and first < last and stepped_back(last, first):
            out._back(later_first_seq, first, last)
        if later.back_count and not out.back_count:
            out.back_seq, out.back_ts, out.back_prev = later.back_seq, later.back_ts, later.back_prev
        out.back_count += later.back_count
        out.first_ts = out.first_ts or later.first_ts
        out.last_ts = later.last_ts or out.last_ts
        return out

    def note(self) -> str | None:
        if not self.back_count:
            return None
        return (f"record times go back by more than a minute {self.back_count} time(s), first at seq "
                f"{self.back_seq} ({self.back_ts}, after {self.back_prev}): the writer's wall clock was stepped "
                "back; times near there are out of order")

    def _back(self, seq: int, ts: str, prev: str) -> None:
        if not self.back_count:
            self.back_seq, self.back_ts, self.back_prev = seq, ts, prev
        self.back_count += 1


def _field(header: str | bytes) -> str | bytes:
    """The header's time field as written, quotes and all ("" or b"" if it has none)."""
    parts = header.split(b"," if isinstance(header, bytes) else ",", _TS + 1)
    return parts[_TS] if len(parts) > _TS + 1 else header[:0]


def _text(field: str | bytes) -> str:
    return (field.decode("ascii", "replace") if isinstance(field, bytes) else field).strip('"')


def stepped_back(earlier: str, later: str) -> bool:
    try:
        return (datetime.fromisoformat(earlier) - datetime.fromisoformat(later)).total_seconds() > STEPPED_S
    except ValueError:  # not a time: the type checks name such a header
        return False
