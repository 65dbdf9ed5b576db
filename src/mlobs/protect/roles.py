"""Roles a client may hold beside its key (MLOBS_PROTECT__ROLES)."""

from __future__ import annotations

# A labeller may give feedback on any client's prediction, not only its own.
LABELLER = "labeller"
ROLES = (LABELLER,)
