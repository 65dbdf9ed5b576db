"""A queue of log lines bounded in lines and in bytes: a line is as long as what it carries (a notification,
a traceback), so a bound in lines alone would let a blocked stdout or an absent collector hold gigabytes.
Any thread may put; one thread takes."""

from __future__ import annotations

import threading
from collections import deque


class LineQueue:
    def __init__(self, max_lines: int, max_bytes: int) -> None:
        self._lines: deque[bytes] = deque()
        self._max_lines, self._max_bytes = max_lines, max_bytes
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._lines)

    def put_one(self, line: bytes) -> bool:
        """Queue one line (a request's, on the request path: no list made); False if it was dropped."""
        with self._lock:
            if len(self._lines) >= self._max_lines or self._bytes + len(line) > self._max_bytes:
                return False
            self._bytes += len(line)
            self._lines.append(line)
        return True

    def put(self, lines: list[bytes]) -> int:
        """Queue what fits, in order; returns how many lines were dropped."""
        return sum(not self.put_one(line) for line in lines)

    def take(self, most: int | None = None) -> list[bytes]:
        """The oldest `most` lines (all of them by default), out of the queue."""
        with self._lock:
            n = len(self._lines) if most is None else min(most, len(self._lines))
            taken = [self._lines.popleft() for _ in range(n)]
            self._bytes -= sum(map(len, taken))
        return taken
