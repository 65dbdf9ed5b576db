"""Where model calls run: inline on the event loop (the default, cheapest for sub-millisecond
models), or, with MLOBS_INFERENCE_TIMEOUT_S set, on a bounded worker pool with a deadline, so a
slow or stuck inference answers 504 instead of holding the request (and the loop) forever."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from mlobs.errors import Unavailable


class InferenceTimeout(Unavailable):
    status_code = 504

    def __init__(self, timeout_s: float):
        super().__init__("inference_timeout", f"inference took longer than {timeout_s:g} s; retry later")


class InferenceRunner:
    def __init__(self, timeout_s: float | None, workers: int = 1, max_waiting: int = 64):
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="mlobs-inference") if timeout_s else None
        # Calls that time out keep their worker until they finish: bound what may queue behind them.
        self._slots = threading.BoundedSemaphore(workers + max_waiting)

    async def run(self, fn: Callable, *args):
        if self._pool is None:
            return fn(*args)
        if not self._slots.acquire(blocking=False):
            raise Unavailable("inference_busy", "too many inferences waiting; retry later")
        context = contextvars.copy_context()  # the request's span stays the parent in the worker
        future = self._pool.submit(context.run, fn, *args)
        future.add_done_callback(lambda _: self._slots.release())
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_s)
        except TimeoutError:
            raise InferenceTimeout(self.timeout_s) from None

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
