"""One progress line on stderr, refreshed a few times a second while traffic runs."""

from __future__ import annotations

import asyncio
import contextlib

from tqdm import tqdm

from mlobs.traffic.stats import Stats

REFRESH_S = 0.25


class Progress:
    def __init__(self, stats: Stats, duration_s: float, started: float, enabled: bool) -> None:
        self._stats = stats
        self._duration_s = duration_s
        self._started = started
        self._enabled = enabled
        self._bar: tqdm | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if not self._enabled:
            return
        self._bar = tqdm(
            total=round(self._duration_s, 1), unit="s", leave=False, dynamic_ncols=True,
            bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s{postfix}",
        )
        self._task = asyncio.create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._draw(loop.time() - self._started)
            await asyncio.sleep(REFRESH_S)

    def _draw(self, elapsed: float) -> None:
        s = self._stats
        assert self._bar is not None
        self._bar.n = round(min(elapsed, self._duration_s), 1)
        errors = sum(s.errors.values())
        rate = s.sent / elapsed if elapsed > 0 else 0.0
        self._bar.set_postfix_str(
            f"sent {s.sent} ({rate:.1f}/s) ok {s.succeeded} err {errors} skipped {s.skipped} fb {s.feedback_sent}",
            refresh=False,
        )
        self._bar.refresh()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._bar is not None:
            self._bar.close()
