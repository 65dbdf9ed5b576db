"""Work budget per request: what a request asks the model to do, summed over its items.

A per-item limit lets one small request carry a batch of worst cases (64 blank 1000x1000 PNGs in a
73 KB body). A service sums the request's work before doing any of it (pixels from image headers,
characters of a text batch) and calls `charge()`: over the budget, a 413 before any decoding or
inference; within it, the request's share of the budget decides where its work runs
(mlobs.protect.workers: small inline, large on the worker pool).
"""

from __future__ import annotations

from mlobs.errors import InputRejected
from mlobs.protect.client import current_load

OVER_BUDGET = "over_budget"


def charge(units: int, budget: int, what: str) -> float:
    """Record that this request needs `units` of `budget` (e.g. pixels); refuse it (413) when over.

    Returns the request's load, units / budget."""
    if units > budget:
        raise InputRejected(OVER_BUDGET, f"the request asks for {units} {what}; at most {budget} per request", 413)
    load = units / budget
    current_load.set(load)
    return load
