"""Journal writes of the on-call receiver, on a thread of their own.

The receiver's event loop takes every webhook, heartbeat and probe; a journal write on a volume that stops
answering (an NFS server gone) blocks for as long as it is down, and would take all of them with it,
the dead man's switch included. Here a page is listed at once, and its journal write is waited for
`timeout_s` (MLOBS_ONCALL__JOURNAL_TIMEOUT_S) at most: past that, or with `backlog` writes already
waiting, the webhook is answered 500 (Alertmanager retries it; the retry is journaled, never listed twice).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from mlobs.oncall.store import JournalError, Listed, NotificationStore

log = logging.getLogger("mlobs.oncall")

BACKLOG = 64


class JournalWriter:
    def __init__(self, store: NotificationStore, *, on_failure: Callable[[], None] = lambda: None,
                 timeout_s: float = 5.0, backlog: int = BACKLOG) -> None:
        """`on_failure`: called for each write `write_later` could not make (`write` raises instead)."""
        self._store, self._timeout, self._backlog = store, timeout_s, backlog
        self._on_failure = on_failure
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="mlobs-oncall-journal")
        self._lock = threading.Lock()
        self._waiting = 0

    async def write(self, listed: Listed) -> None:
        """Journal `listed` within the timeout; raises JournalError otherwise (the page stays listed)."""
        future = self._submit(listed)
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), self._timeout)
        except TimeoutError:
            self._store.unjournaled(listed.key)
            raise JournalError(None, f"journal write not done within {self._timeout:g} s (its volume does not "
                                     "answer)", new=listed.new) from None

    def write_later(self, listed: Listed) -> None:
        """Journal `listed` without waiting, from any thread; a failure is logged."""
        try:
            self._submit(listed).add_done_callback(self._check)
        except JournalError as exc:
            self._failed(exc)

    def _check(self, done: Future) -> None:
        if (exc := done.exception()) is not None:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self._on_failure()
        log.error("on-call notification kept but not journaled", extra={"fields": {"error": str(exc)}})

    def _submit(self, listed: Listed) -> Future:
        with self._lock:
            if self._waiting >= self._backlog:
                self._store.unjournaled(listed.key)
                raise JournalError(None, f"journal write refused: {self._backlog} writes already wait for its "
                                         "volume", new=listed.new)
            self._waiting += 1
        future = self._pool.submit(self._store.journal, listed)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future) -> None:
        with self._lock:
            self._waiting -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self._store.close(self._timeout)

