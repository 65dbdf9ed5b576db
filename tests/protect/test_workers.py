"""The fair worker pool: small requests inline, large ones on workers in their client's turn."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mlobs.inference import InferenceTimeout
from mlobs.protect.client import current_client, current_load
from mlobs.protect.workers import Busy, FairPool


async def as_client(pool: FairPool, client: str, load: float, fn, *args):
    async def call():
        current_client.set(client)
        current_load.set(load)
        return await pool.run(fn, *args)

    return await asyncio.create_task(call())


def test_a_small_request_runs_inline_and_a_large_one_on_a_worker_thread():
    async def main():
        pool = FairPool(workers=2, inline_load=0.05)
        try:
            small = await as_client(pool, "alice", 0.01, threading.get_ident)
            large = await as_client(pool, "alice", 0.5, threading.get_ident)
            return small, large
        finally:
            pool.shutdown()

    small, large = asyncio.run(main())
    assert small == threading.get_ident()
    assert large != threading.get_ident()


def test_a_client_flooding_the_pool_holds_only_its_share_and_another_client_goes_next():
    order: list[str] = []  # the order jobs start in: when they end after the gate opens is up to the threads
    gate = threading.Event()

    def job(name: str) -> None:
        order.append(name)
        gate.wait(5)

    async def main():
        pool = FairPool(workers=2, share=1, max_waiting=10)
        try:
            heavy = [asyncio.create_task(as_client(pool, "heavy", 1.0, job, f"heavy{i}")) for i in range(6)]
            await asyncio.sleep(0.05)
            light = asyncio.create_task(as_client(pool, "light", 1.0, job, "light"))
            await asyncio.sleep(0.05)
            assert pool.running("heavy") == 1  # one worker held, the other free for anyone else
            assert pool.running("light") == 1
            gate.set()
            await asyncio.gather(*heavy, light)
        finally:
            pool.shutdown()

    asyncio.run(main())
    assert order.index("light") <= 1


def test_a_client_over_its_share_and_queue_gets_busy_while_others_are_served():
    gate = threading.Event()

    async def main():
        pool = FairPool(workers=2, share=1, max_waiting=2)
        try:
            held = [asyncio.create_task(as_client(pool, "anonymous", 1.0, gate.wait, 5)) for _ in range(3)]
            await asyncio.sleep(0.05)
            with pytest.raises(Busy) as refused:
                await as_client(pool, "anonymous", 1.0, gate.wait, 5)
            other = asyncio.create_task(as_client(pool, "bob", 1.0, lambda: "bob served"))
            assert await asyncio.wait_for(other, 2) == "bob served"
            gate.set()
            await asyncio.gather(*held)
            return refused.value
        finally:
            pool.shutdown()

    refused = asyncio.run(main())
    assert refused.status_code == 429 and refused.code == "busy"


def test_with_a_deadline_every_call_runs_on_a_worker_and_a_late_one_answers_a_timeout():
    gate = threading.Event()

    async def main():
        pool = FairPool(workers=1, timeout_s=0.1)
        try:
            with pytest.raises(InferenceTimeout):
                await as_client(pool, "alice", 0.0, gate.wait, 5)
        finally:
            gate.set()
            pool.shutdown()

    asyncio.run(main())


def test_a_failing_job_raises_its_own_error_and_frees_its_worker():
    def boom():
        raise ValueError("bad input")

    async def main():
        pool = FairPool(workers=1, share=1, max_waiting=0)
        try:
            with pytest.raises(ValueError, match="bad input"):
                await as_client(pool, "alice", 1.0, boom)
            return await as_client(pool, "alice", 1.0, lambda: "next")
        finally:
            pool.shutdown()

    assert asyncio.run(main()) == "next"
