"""Calls released together: one thread per call, all held at one barrier until every thread is ready, so
the calls meet where they contend (one row, one prediction) rather than one after another."""

from __future__ import annotations

import threading
from typing import Callable, Iterable, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


def at_once(call: Callable[[Item], Outcome], items: Iterable[Item]) -> list[Outcome]:
    """`call(item)` for every item, each on a thread of its own, all started at once; their outcomes in the
    order they finished. A call that raised raises here, once every thread has ended."""
    items = list(items)
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(items))

    def run(item):
        start.wait()
        try:
            outcomes.append(call(item))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return outcomes
