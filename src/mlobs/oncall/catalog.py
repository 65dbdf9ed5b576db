"""On-call receiver metrics: emitted by the receiver, read by the acceptance check and dashboards."""

from __future__ import annotations

from mlobs.catalog import Metric

ALERTNAME = "alertname"
SEVERITY = "severity"
STATUS = "status"

NOTIFICATIONS = Metric(
    "mlobs_oncall_notifications",
    "counter",
    "Alerts received from Alertmanager's webhook, one per alert in a notification, by alert, severity and "
    "status (firing or resolved).",
    (ALERTNAME, SEVERITY, STATUS),
)
REJECTED = Metric(
    "mlobs_oncall_rejected_notifications",
    "counter",
    "Webhook requests refused (not JSON, not Alertmanager's payload version 4, too large, no valid token).",
    ("reason",),
)

# Any alertname beyond this many distinct ones is counted as OTHER: the receiver takes whatever is
# posted to it, and a label per arbitrary name would grow without bound.
MAX_ALERTNAMES = 200
# Severities come from the alert's labels or the route's query string, as freely as names: a few are real.
MAX_SEVERITIES = 10
OTHER = "_other"
NO_SEVERITY = "none"

METRICS = (NOTIFICATIONS, REJECTED)
