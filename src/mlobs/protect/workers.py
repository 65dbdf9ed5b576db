"""A bounded worker pool shared fairly between clients, for decoding and inference of large inputs.

Large requests (over `inline_load` of their work budget, see mlobs.protect.budget) run on worker
threads, so the event loop keeps answering probes and small requests while they compute. Small
ones stay inline: a thread hop costs more than a sub-millisecond model call.

Fairness: each client has its own queue; free workers take the next job round-robin over clients
with waiting jobs, and no client runs more than `share` jobs at once. With two workers and a share
of one, a client flooding the pool holds one worker and waits at its own door; any other client
finds the second worker free or next in turn. A client with `share + max_waiting` jobs queued or
running gets 429 (`busy`) at once: the anonymous client, which has no in-flight cap by default,
is bounded here too.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from mlobs.errors import Unavailable
from mlobs.inference import InferenceTimeout
from mlobs.protect.client import current_client, current_load


class Busy(Unavailable):
    status_code = 429

    def __init__(self, limit: int):
        super().__init__("busy", f"this client already has {limit} large requests waiting or running; retry later")


class FairPool:
    def __init__(self, workers: int = 2, share: int = 1, max_waiting: int = 8, inline_load: float = 0.05,
                 timeout_s: float | None = None, on_busy: Callable[[str], None] | None = None):
        self.workers = workers
        self.share = max(1, min(share, workers))
        self.max_waiting = max_waiting
        self.inline_load = inline_load
        self.timeout_s = timeout_s
        self._on_busy = on_busy or (lambda client: None)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="mlobs-work")
        self._queues: dict[str, deque] = {}
        self._order: deque[str] = deque()  # clients with waiting jobs, in turn
        self._running: dict[str, int] = {}
        self._busy = 0

    @classmethod
    def from_settings(cls, ps, timeout_s: float | None = None, on_busy=None) -> FairPool:
        return cls(ps.workers, ps.worker_share, ps.max_waiting_per_client, ps.inline_load, timeout_s, on_busy)

    def inline(self) -> bool:
        return self.timeout_s is None and current_load.get() <= self.inline_load

    async def run(self, fn: Callable, *args):
        """fn(*args): inline for a small request, else on a worker in this client's turn."""
        if self.inline():
            return fn(*args)
        client = current_client.get()
        queue = self._queues.setdefault(client, deque())
        limit = self.share + self.max_waiting
        if len(queue) + self._running.get(client, 0) >= limit:
            self._on_busy(client)
            raise Busy(limit)
        future = asyncio.get_running_loop().create_future()
        # The request's span stays the parent of whatever the worker records.
        queue.append((contextvars.copy_context(), fn, args, future))
        if client not in self._order:
            self._order.append(client)
        self._dispatch()
        try:
            if self.timeout_s is None:
                return await future
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            raise InferenceTimeout(self.timeout_s) from None
        # A cancelled or timed-out job still queued is skipped by _dispatch; one already running keeps
        # its worker until it returns (a thread cannot be stopped), and still counts against its client.

    def _dispatch(self) -> None:
        skipped = 0
        while self._busy < self.workers and self._order and skipped < len(self._order):
            client = self._order[0]
            if self._running.get(client, 0) >= self.share:
                self._order.rotate(-1)
                skipped += 1
                continue
            queue = self._queues[client]
            ctx, fn, args, future = queue.popleft()
            if queue:
                self._order.rotate(-1)
            else:
                self._order.popleft()
            skipped = 0
            if future.done():  # cancelled while waiting
                continue
            self._busy += 1
            self._running[client] = self._running.get(client, 0) + 1
            loop = future.get_loop()
            work: Future = self._pool.submit(ctx.run, fn, *args)
            work.add_done_callback(lambda done, c=client, f=future, lp=loop: _back_on(lp, self._finished, c, f, done))

    def _finished(self, client: str, future: asyncio.Future, done: Future) -> None:
        self._busy -= 1
        self._running[client] -= 1
        if not self._running[client]:
            del self._running[client]
        if not self._queues.get(client):
            self._queues.pop(client, None)
        if not future.done():
            exc = done.exception()
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(done.result())
        self._dispatch()

    def waiting(self, client: str) -> int:
        return len(self._queues.get(client, ()))

    def running(self, client: str) -> int:
        return self._running.get(client, 0)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _back_on(loop: asyncio.AbstractEventLoop, callback, *args) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop has closed (the app shut down): nobody waits for this answer
        pass
