"""Endpoint protection for model services: API keys, per-client limits, body limits, request
budget, security headers, abuse signals (query volume, input diversity, OOD score), security events.

    telemetry = instrument(app, info, settings=settings)
    protection = protect(app, settings, telemetry)          # MLOBS_PROTECT__*
    attach_audit(protection, open_decision_log(settings, telemetry, info))
"""

from __future__ import annotations

from mlobs.protect.keys import ANONYMOUS, ApiKeys, hash_key, new_key
from mlobs.protect.middleware import OPEN_PATHS, SECURITY_HEADERS, ProtectMiddleware
from mlobs.protect.protection import Protection
from mlobs.protect.settings import ProtectSettings
from mlobs.protect.wire import attach_audit, image_body_limits, protect

__all__ = ["ANONYMOUS", "OPEN_PATHS", "SECURITY_HEADERS", "ApiKeys", "Protection", "ProtectMiddleware",
           "ProtectSettings", "attach_audit", "hash_key", "image_body_limits", "new_key", "protect"]
