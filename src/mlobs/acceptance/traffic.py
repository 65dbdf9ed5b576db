"""Traffic for the acceptance check: each target gets its normal workload, then its shift, in a background
thread until stopped."""

from __future__ import annotations

import asyncio
import threading
import time

from mlobs import registry
from mlobs.traffic.runner import Phase, RunConfig, run_traffic

NORMAL = "normal"


class BackgroundTraffic:
    def __init__(self, targets: dict[str, str], shifts: dict[str, str], rate: float, normal_seconds: float,
                 duration: float, seed: int = 7):
        self.targets, self.shifts, self.rate = targets, shifts, rate
        self.normal_seconds, self.duration, self.seed = normal_seconds, duration, seed
        self.shift_at: float | None = None  # unix time the shifts begin
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlobs-acceptance-traffic", daemon=True)

    def _phases(self, service: str) -> list[Phase]:
        module = registry.load(service)
        shift = self.shifts.get(service, NORMAL)
        return [Phase(0.0, module.workload(NORMAL, self.seed)),
                Phase(self.normal_seconds, module.workload(shift, self.seed))]

    async def _all(self) -> None:
        runs = [run_traffic(RunConfig(target=url, rate=self.rate, duration_s=self.duration, seed=self.seed + i,
                                      feedback_rate=0.3), self._phases(service))
                for i, (service, url) in enumerate(sorted(self.targets.items()))]
        await asyncio.gather(*runs)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._task = self._loop.create_task(self._all())
            self.shift_at = time.time() + self.normal_seconds
            self._started.set()
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # reported by the check, not lost in a thread
            self.error = exc
        finally:
            self._started.set()
            self._loop.close()

    def start(self) -> "BackgroundTraffic":
        self._thread.start()
        self._started.wait(30)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._task is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._task.cancel)
            except RuntimeError:  # the loop closed meanwhile: the traffic has already ended
                pass
        self._thread.join(30)
