"""Who is asking, and how much work they asked for: set per request, read where the work runs."""

from __future__ import annotations

import contextvars

ANONYMOUS = "anonymous"

# The authenticated client id of the request being served ("anonymous" without authentication).
current_client: contextvars.ContextVar[str] = contextvars.ContextVar("mlobs_client", default=ANONYMOUS)
# The request's work as a share of its budget (0..1), set by mlobs.protect.budget.charge().
current_load: contextvars.ContextVar[float] = contextvars.ContextVar("mlobs_request_load", default=0.0)
