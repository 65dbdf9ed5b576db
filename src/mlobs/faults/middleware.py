"""A slow or failing /predict, inside the telemetry middleware so the service's own metrics see it."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from types import SimpleNamespace

from starlette.middleware import Middleware

from mlobs.faults.settings import FaultSettings

PREDICT_PATH = "/predict"
_UNAVAILABLE = b'{"error":"injected_fault","detail":"a fault injected by MLOBS_FAULT__PREDICT_ERROR_RATIO"}'

log = logging.getLogger("mlobs.faults")


class PredictFault:
    def __init__(self, app, fault: FaultSettings, clock=time.monotonic, rng: random.Random | None = None):
        self.app, self.fault, self.clock = app, fault, clock
        self.rng = rng or random.Random()
        self.first_request: float | None = None
        self.announced = False

    def active(self) -> bool:
        now = self.clock()
        if self.first_request is None:
            self.first_request = now
        on = now - self.first_request >= self.fault.after_s
        if on and not self.announced:
            self.announced = True
            log.warning("injected fault on: /predict delayed %.3f s, %.0f%% answered 503",
                        self.fault.predict_delay_s, self.fault.predict_error_ratio * 100)
        return on

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != PREDICT_PATH or not self.active():
            await self.app(scope, receive, send)
            return
        if self.fault.predict_delay_s:
            await asyncio.sleep(self.fault.predict_delay_s)
        if self.rng.random() < self.fault.predict_error_ratio:
            # Answered before routing: name the route, so the telemetry middleware records it as /predict's.
            scope["route"] = SimpleNamespace(path=PREDICT_PATH)
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(_UNAVAILABLE)).encode())]})
            await send({"type": "http.response.body", "body": _UNAVAILABLE})
            return
        await self.app(scope, receive, send)


def install(app, fault: FaultSettings) -> bool:
    """Add the fault as the innermost middleware of `app` (before its first request); False when off."""
    if not fault.enabled:
        return False
    app.user_middleware.append(Middleware(PredictFault, fault=fault))
    log.warning("fault injection configured: %s", fault.model_dump())
    return True
