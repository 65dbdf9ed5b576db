"""The notifications the receiver keeps: a list for GET /pages bounded in count and bytes, and an optional
JSON-lines journal bounded on disk (rotated once to `<path>.1`, so the oldest pages are the ones let go)."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict, deque
from pathlib import Path

import orjson

from mlobs.whole_lines import append_whole

# Notifications kept in memory whose journal write failed, remembered so that Alertmanager's retry of the same
# notification is journaled without being listed twice. Bounded: past it, the oldest are forgotten.
UNJOURNALED_BOUND = 1_000


class JournalError(OSError):
    """The notification is kept in memory and listed, but not in the journal: answer 5xx so that it is retried.
    `new`: it was listed by this call (not by an earlier try)."""

    def __init__(self, errno: int | None, message: str, *, new: bool) -> None:
        super().__init__(errno, message)
        self.new = new


class NotificationStore:
    def __init__(self, keep: int, journal_path: Path | None = None, keep_bytes: int | None = None,
                 journal_max_bytes: int | None = None):
        self._items: deque[tuple[dict, int]] = deque()
        self._keep, self._keep_bytes = keep, keep_bytes
        self._bytes = 0
        self._lock = threading.Lock()
        self._journal = None
        self._journal_max_bytes = journal_max_bytes
        self._unjournaled: OrderedDict[object, None] = OrderedDict()
        if journal_path is not None:
            journal_path = Path(journal_path)
            journal_path.parent.mkdir(parents=True, exist_ok=True)
            self._journal = _open(journal_path)
            self._journal_path = journal_path

    def add(self, notification: dict, key: object = None) -> bool:
        """Keep `notification`; False if it was kept before under `key` and only its journal write is retried.
        Raises JournalError when the journal write fails (the notification stays listed)."""
        line = orjson.dumps(notification) + b"\n"
        with self._lock:
            retried = key is not None and key in self._unjournaled
            if not retried:
                self._items.append((notification, len(line)))
                self._bytes += len(line)
                # The newest is kept even alone over the byte bound: it is the page someone must see.
                while len(self._items) > 1 and (len(self._items) > self._keep
                                                or (self._keep_bytes is not None and self._bytes > self._keep_bytes)):
                    self._bytes -= self._items.popleft()[1]
            if self._journal is not None:
                try:
                    self._rotate_before(len(line))
                    append_whole(self._journal, line)  # never half a line in the journal
                except OSError as exc:
                    if key is not None:
                        self._unjournaled[key] = None
                        while len(self._unjournaled) > UNJOURNALED_BOUND:
                            self._unjournaled.popitem(last=False)
                    raise JournalError(exc.errno, f"journal write failed: {exc.strerror or exc}",
                                       new=not retried) from exc
            if retried:
                del self._unjournaled[key]
            return not retried

    def _rotate_before(self, size: int) -> None:
        written = self._journal.tell()
        if self._journal_max_bytes is None or written == 0 or written + size <= self._journal_max_bytes:
            return
        self._journal.close()
        os.replace(self._journal_path, self._journal_path.with_name(self._journal_path.name + ".1"))
        self._journal = _open(self._journal_path)

    def select(self, alertname: str | None = None, status: str | None = None, severity: str | None = None,
               since: float | None = None) -> list[dict]:
        """Notifications (oldest first) holding at least one alert that matches every filter given."""
        with self._lock:
            items = [n for n, _ in self._items]
        out = []
        for n in items:
            if since is not None and n["received_at"] < since:
                continue
            if any(_matches(a, alertname, status, severity) for a in n["alerts"]):
                out.append(n)
        return out

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()


def _open(path: Path):
    return open(path, "a+b", buffering=0)  # readable: an append first cuts back half a line a crash left


def _matches(alert: dict, alertname: str | None, status: str | None, severity: str | None) -> bool:
    labels = alert["labels"]
    return ((alertname is None or labels.get("alertname") == alertname)
            and (status is None or alert["status"] == status)
            and (severity is None or labels.get("severity") == severity))
