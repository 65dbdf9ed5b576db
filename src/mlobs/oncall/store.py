"""The notifications the receiver keeps: a bounded list for GET /pages and an optional JSON-lines journal."""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path

import orjson


class NotificationStore:
    def __init__(self, keep: int, journal_path: Path | None = None):
        self._items: deque[dict] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._journal = None
        if journal_path is not None:
            journal_path = Path(journal_path)
            journal_path.parent.mkdir(parents=True, exist_ok=True)
            self._journal = open(journal_path, "ab")
            self._journal_path = journal_path

    def add(self, notification: dict) -> None:
        line = orjson.dumps(notification) + b"\n"
        with self._lock:
            self._items.append(notification)
            if self._journal is not None:
                # Flushed per notification: pages are rare, and one lost on a crash is one nobody saw.
                self._journal.write(line)
                self._journal.flush()

    def select(self, alertname: str | None = None, status: str | None = None, severity: str | None = None,
               since: float | None = None) -> list[dict]:
        """Notifications (oldest first) holding at least one alert that matches every filter given."""
        with self._lock:
            items = list(self._items)
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


def _matches(alert: dict, alertname: str | None, status: str | None, severity: str | None) -> bool:
    labels = alert["labels"]
    return ((alertname is None or labels.get("alertname") == alertname)
            and (status is None or alert["status"] == status)
            and (severity is None or labels.get("severity") == severity))
