"""Work at an app's startup and shutdown that runs whether or not the app has a lifespan of its own.

FastAPI runs `on_startup`/`on_shutdown` handlers only for an app without a `lifespan=`, and the
lifespan is how its documentation loads a model: handlers appended there would silently never
run. Here the app's lifespan context (its own, or FastAPI's default that runs those handlers) is
wrapped instead.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Callable


def around_lifespan(app, startup: Callable[[], None] | None = None, shutdown: Callable[[], None] | None = None,
                    started: Callable[[], None] | None = None):
    """Call `startup()` before the app's own startup, `started()` right after it (its model loaded), and
    `shutdown()` after its own shutdown."""
    router = app.router
    inner = router.lifespan_context

    @asynccontextmanager
    async def lifespan(started_app):
        if startup is not None:
            startup()
        try:
            async with inner(started_app) as state:
                if started is not None:
                    started()
                yield state
        finally:
            if shutdown is not None:
                shutdown()

    router.lifespan_context = lifespan
