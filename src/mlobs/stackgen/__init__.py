"""The stack as code: SLO and alert rules, Alertmanager config, Grafana dashboards and provisioning.

Everything is built from the metric catalogs (mlobs.catalog, mlobs.drift.catalog), so a renamed
metric or label breaks generation instead of silently emptying a panel. Entry point:
`python -m mlobs.stackgen generate | check`.
"""

from __future__ import annotations


class GenerationError(ValueError):
    """The definitions cannot produce a valid stack (bad SLO threshold, unknown label, duplicate name)."""
