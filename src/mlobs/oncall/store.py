"""The notifications the receiver keeps: a list for GET /pages bounded in count and bytes, and an optional
JSON-lines journal bounded on disk (rotated once to `<path>.1`, so the oldest pages are the ones let go).

A receiver that restarts lists again what its journal holds (the newest, within the same bounds): a page
that arrived before the restart is not gone from GET /pages, and one repeated after it is listed beside it.
"""

from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict, deque
from pathlib import Path
from typing import NamedTuple

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


class Listed(NamedTuple):
    line: bytes  # the notification as its journal line
    key: object
    new: bool  # listed by this call, not by an earlier try


class NotificationStore:
    def __init__(self, keep: int, journal_path: Path | None = None, keep_bytes: int | None = None,
                 journal_max_bytes: int | None = None):
        self._items: deque[tuple[dict, int]] = deque()
        self._keep, self._keep_bytes = keep, keep_bytes
        self._bytes = 0
        self._lock = threading.Lock()  # the list; never held across I/O
        self._journal_lock = threading.Lock()
        self._journal = None
        self._journal_max_bytes = journal_max_bytes
        self._unjournaled: OrderedDict[object, None] = OrderedDict()
        if journal_path is not None:
            journal_path = Path(journal_path)
            journal_path.parent.mkdir(parents=True, exist_ok=True)
            self._journal_path = journal_path
            self._reload()
            self._journal = _open(journal_path)

    def add(self, notification: dict, key: object = None) -> bool:
        """Keep `notification`; False if it was kept before under `key` and only its journal write is retried.
        Raises JournalError when the journal write fails (the notification stays listed)."""
        listed = self.list(notification, key)
        self.journal(listed)
        return listed.new

    def list(self, notification: dict, key: object = None) -> Listed:
        """`add`'s first half, with no I/O: `notification` listed unless it was kept before under `key` (a
        retry whose journal write failed). Returns what `journal` then writes."""
        line = orjson.dumps(notification) + b"\n"
        with self._lock:
            new = key is None or key not in self._unjournaled
            if new:
                self._append(notification, len(line))
        return Listed(line, key, new)

    def _append(self, notification: dict, size: int) -> None:
        self._items.append((notification, size))
        self._bytes += size
        # The newest is kept even alone over the byte bound: it is the page someone must see.
        while len(self._items) > 1 and (len(self._items) > self._keep
                                        or (self._keep_bytes is not None and self._bytes > self._keep_bytes)):
            self._bytes -= self._items.popleft()[1]

    def _reload(self) -> None:
        """List the newest notifications of the journal (and of its rotated file when the journal holds fewer
        than the bounds keep), oldest first. A line a crash cut short, or one that is not a notification, is
        passed over."""
        lines: list[bytes] = []
        budget = self._keep_bytes
        for path in (self._journal_path, self._journal_path.with_name(self._journal_path.name + ".1")):
            lines[:0] = _tail_lines(path, budget)
            if budget is not None:
                budget = self._keep_bytes - sum(map(len, lines))
            if len(lines) >= self._keep or (budget is not None and budget <= 0):
                break
        for line in lines[-self._keep:]:
            notification = _notification(line)
            if notification is not None:
                self._append(notification, len(line))

    def journal(self, listed: Listed) -> None:
        """`add`'s second half: the listed notification appended to the journal, if there is one. Raises
        JournalError when the write fails; a retry under the same key is then journaled, not listed again."""
        if self._journal is not None:
            with self._journal_lock:
                try:
                    self._rotate_before(len(listed.line))
                    append_whole(self._journal, listed.line)  # never half a line in the journal
                except OSError as exc:
                    self.unjournaled(listed.key)
                    raise JournalError(exc.errno, f"journal write failed: {exc.strerror or exc}",
                                       new=listed.new) from exc
        if not listed.new:
            with self._lock:
                self._unjournaled.pop(listed.key, None)

    def unjournaled(self, key: object) -> None:
        """Remember that the notification kept under `key` is not (or not yet) in the journal."""
        if key is None:
            return
        with self._lock:
            self._unjournaled[key] = None
            while len(self._unjournaled) > UNJOURNALED_BOUND:
                self._unjournaled.popitem(last=False)

    def _rotate_before(self, size: int) -> None:
        written = self._journal.tell()
        if self._journal_max_bytes is None or written == 0 or written + size <= self._journal_max_bytes:
            return
        # Renamed while open (the handle follows the file), then the new one opened, then the old closed: a
        # step that fails leaves a journal to write to, and the next rotation goes on from where this one was.
        try:
            renamed = not os.path.samestat(os.stat(self._journal_path), os.fstat(self._journal.fileno()))
        except FileNotFoundError:
            renamed = True
        if not renamed:
            os.replace(self._journal_path, self._journal_path.with_name(self._journal_path.name + ".1"))
        journal = _open(self._journal_path)
        self._journal.close()
        self._journal = journal

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

    def close(self, timeout: float = 5.0) -> None:
        """Close the journal, unless a write to it has not finished within `timeout` (a volume that does not
        answer): that write's thread still holds it."""
        if self._journal is not None and self._journal_lock.acquire(timeout=timeout):
            try:
                self._journal.close()
            finally:
                self._journal_lock.release()


def _tail_lines(path: Path, limit: int | None) -> list[bytes]:
    """The whole lines in the last `limit` bytes of `path` (all of it when None; none if it is missing)."""
    try:
        with open(path, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # a device (/dev/full) reads without end
                return []
            size = f.seek(0, os.SEEK_END)
            start = 0 if limit is None else max(0, size - limit)
            f.seek(max(0, start - 1))
            data = f.read()
    except (FileNotFoundError, IsADirectoryError):
        return []
    if start > 0:  # from the byte before the tail: whole lines begin after its first newline
        cut = data.find(b"\n")
        data = data[cut + 1:] if cut >= 0 else b""
    return [line for line in data.splitlines(keepends=True) if line.endswith(b"\n")]


def _notification(line: bytes) -> dict | None:
    try:
        n = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not (isinstance(n, dict) and isinstance(n.get("received_at"), (int, float))
            and isinstance(n.get("alerts"), list)
            and all(isinstance(a, dict) and isinstance(a.get("labels"), dict) and "status" in a
                    for a in n["alerts"])):
        return None
    return n


def _open(path: Path):
    return open(path, "a+b", buffering=0)  # readable: an append first cuts back half a line a crash left


def _matches(alert: dict, alertname: str | None, status: str | None, severity: str | None) -> bool:
    labels = alert["labels"]
    return ((alertname is None or labels.get("alertname") == alertname)
            and (status is None or alert["status"] == status)
            and (severity is None or labels.get("severity") == severity))
