"""Keep the cyclic garbage collector off the request path."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Move everything alive once the service has started (libraries, the model, the app) out
    of the collector's reach. Otherwise every full collection walks that whole heap again, and
    a busy service triggers one every few thousand requests from its request path; the audit
    writer's allocations made this about 0.4 ms of CPU a decision on the credit service."""
    gc.collect()
    gc.freeze()
