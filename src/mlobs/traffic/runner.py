"""Open-loop traffic: requests leave on schedule whether or not earlier ones have returned.

A request that is due while `concurrency` requests are already in flight is not
sent and is counted as skipped, so a slow server shows up in the numbers instead
of silently lowering the offered rate. A request that this client could not send
within MAX_LAG_S of its time (the client itself is overloaded) is counted as
behind, so the run never stretches past its duration or turns into bursts.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx

from mlobs.traffic.progress import Progress
from mlobs.traffic.stats import Stats
from mlobs.traffic.workload import Request, Workload

ARRIVALS = ("poisson", "fixed")
USER_AGENT = "mlobs-traffic/0.1"
MAX_LAG_S = 0.25


@dataclass(frozen=True)
class Phase:
    """From `start_s` seconds into the run, requests come from `workload`; only `volume` of them are sent."""

    start_s: float
    workload: Workload
    volume: float = 1.0


@dataclass(frozen=True)
class RunConfig:
    target: str
    rate: float
    duration_s: float
    concurrency: int = 64
    timeout_s: float = 10.0
    feedback_rate: float = 0.3
    seed: int = 0
    arrivals: str = "poisson"
    # Extra time after the schedule ends for in-flight requests (beyond their own timeout).
    drain_grace_s: float = 1.0

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.duration_s <= 0:
            raise ValueError("rate and duration must be positive")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not 0 <= self.feedback_rate <= 1:
            raise ValueError("feedback rate must be between 0 and 1")
        if self.arrivals not in ARRIVALS:
            raise ValueError(f"arrivals must be one of: {', '.join(ARRIVALS)}")


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect_error"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol_error"
    return type(exc).__name__


def arrival_times(config: RunConfig, rng: random.Random) -> Iterator[float]:
    """Send offsets in seconds from the start, all below the duration."""
    if config.arrivals == "fixed":
        for k in range(math.ceil(config.duration_s * config.rate)):
            if k / config.rate < config.duration_s:
                yield k / config.rate
        return
    t = rng.expovariate(config.rate)
    while t < config.duration_s:
        yield t
        t += rng.expovariate(config.rate)



def _phase_at(phases: Sequence[Phase], t: float) -> Phase:
    current = phases[0]
    for phase in phases:
        if phase.start_s <= t:
            current = phase
    return current


async def _send(client: httpx.AsyncClient, request: Request) -> httpx.Response:
    return await client.request(
        request.method, request.path, json=request.json, content=request.content, headers=request.headers,
        files=request.files
    )


async def _exchange(client: httpx.AsyncClient, request: Request, stats: Stats, loop,
                    timeout_s: float) -> httpx.Response | None:
    started = loop.time()
    try:
        # The whole exchange within the timeout (httpx's bounds each read): a service that answers a
        # byte at a time is a timeout, and frees its slot, as one that never answers is.
        response = await asyncio.wait_for(_send(client, request), timeout_s)
    except asyncio.CancelledError:
        stats.record_error(request.kind, "cancelled")
        raise
    except Exception as exc:  # any failure is data for the summary, never a crash of the run
        stats.record_error(request.kind, error_kind(exc))
        return None
    stats.record_response(request.kind, response.status_code, loop.time() - started)
    return response


async def _request_then_feedback(
    client: httpx.AsyncClient, request: Request, workload: Workload, wants_feedback: bool, stats: Stats,
    timeout_s: float,
) -> None:
    loop = asyncio.get_running_loop()
    response = await _exchange(client, request, stats, loop, timeout_s)
    if not (wants_feedback and response is not None and response.is_success and request.truth is not None):
        return
    try:
        body = response.json()
    except ValueError:  # a 2xx without a JSON body: nothing to give feedback on
        return
    try:
        follow_up = workload.feedback(body, request.truth)
    except Exception as exc:  # a workload bug shows in the summary instead of killing the run
        stats.record_error("feedback", f"workload_{type(exc).__name__}")
        return
    if follow_up is not None:
        await _exchange(client, follow_up, stats, loop, timeout_s)


async def run_traffic(
    config: RunConfig,
    phases: Sequence[Phase],
    stats: Stats | None = None,
    *,
    progress: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Stats:
    """Send traffic for `config.duration_s` seconds, wait for stragglers, return the counts."""
    if not phases:
        raise ValueError("at least one phase is needed")
    phases = sorted(phases, key=lambda p: p.start_s)
    stats = stats if stats is not None else Stats()
    rng = random.Random(config.seed)
    pending: set[asyncio.Task] = set()
    limits = httpx.Limits(max_connections=config.concurrency, max_keepalive_connections=config.concurrency)
    loop = asyncio.get_running_loop()

    async with httpx.AsyncClient(
        base_url=config.target,
        timeout=config.timeout_s,
        limits=limits,
        transport=transport,
        headers={"user-agent": USER_AGENT},
    ) as client:
        start = loop.time()
        bar = Progress(stats, config.duration_s, start, enabled=progress)
        bar.start()
        try:
            for t in arrival_times(config, rng):
                delay = start + t - loop.time()
                # Yield even when late, so in-flight requests get to run.
                await asyncio.sleep(max(delay, 0.0))
                if loop.time() - start - t > MAX_LAG_S:
                    stats.behind += 1
                    continue
                wants_feedback = rng.random() < config.feedback_rate
                phase = _phase_at(phases, t)
                if phase.volume < 1.0 and rng.random() >= phase.volume:
                    continue  # the scenario's traffic never arrives (an upstream outage)
                request = phase.workload.next_request(rng)
                if len(pending) >= config.concurrency:
                    stats.skipped += 1
                else:
                    stats.scenarios[phase.workload.scenario] += 1
                    task = asyncio.create_task(
                        _request_then_feedback(client, request, phase.workload, wants_feedback, stats,
                                               config.timeout_s)
                    )
                    pending.add(task)
                    task.add_done_callback(pending.discard)
            await asyncio.sleep(max(start + config.duration_s - loop.time(), 0.0))
            stats.elapsed_s = loop.time() - start
            if pending:
                _, late = await asyncio.wait(set(pending), timeout=config.timeout_s + config.drain_grace_s)
                for task in late:
                    task.cancel()
                if late:
                    await asyncio.wait(late)
        finally:
            stats.elapsed_s = stats.elapsed_s or loop.time() - start  # an interrupted run still has a rate
            for task in pending:
                task.cancel()
            await bar.stop()
    return stats
