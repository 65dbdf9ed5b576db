"""Endpoint protection for model services: API keys (every credential considered, failures
throttled per address), per-client limits, body limits, work budgets per request, a worker pool
shared fairly between clients, strict JSON, security headers, abuse signals (query volume, input
diversity over canonical inputs, OOD score), security events that cannot be forged.

    telemetry = instrument(app, info, settings=settings)
    protection = protect(app, settings, telemetry)          # MLOBS_PROTECT__*
    attach_audit(protection, open_decision_log(settings, telemetry, info))
    ...
    charge(total_pixels, settings.protect.max_request_pixels, "pixels")   # in an endpoint: 413 over budget
    batch = await telemetry.runner.run(decode, images)                    # large work off the event loop

The strict HTTP server protocol is mlobs.protect.server (imported by `mlobs serve`, not here, so
the library does not need uvicorn).
"""

from __future__ import annotations

from mlobs.protect.budget import charge
from mlobs.protect.keys import ANONYMOUS, ApiKeys, hash_key, new_key
from mlobs.protect.middleware import OPEN_PATHS, SECURITY_HEADERS, ProtectMiddleware
from mlobs.protect.protection import Protection
from mlobs.protect.settings import ProtectSettings
from mlobs.protect.wire import attach_audit, image_body_limits, protect

__all__ = ["ANONYMOUS", "OPEN_PATHS", "SECURITY_HEADERS", "ApiKeys", "Protection", "ProtectMiddleware",
           "ProtectSettings", "attach_audit", "charge", "hash_key", "image_body_limits", "new_key", "protect"]
