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

JOURNAL_FAILURES = Metric(
    "mlobs_oncall_journal_failures",
    "counter",
    "Notifications kept and listed but not written to the journal (a full or failing disk); each is answered "
    "500, so Alertmanager retries it, and a retry is journaled without being listed twice.",
    (),
)
HEARTBEATS = Metric(
    "mlobs_oncall_heartbeats",
    "counter",
    "PagingHeartbeat notifications received at POST /heartbeat: each one proves Prometheus, its rules, "
    "Alertmanager and the token between Alertmanager and this receiver delivered.",
    (),
)
PAGING_PATH_SILENT = Metric(
    "mlobs_oncall_paging_path_silent",
    "gauge",
    "1 while no PagingHeartbeat has arrived within MLOBS_ONCALL__HEARTBEAT_TIMEOUT_S (the receiver then holds "
    "its own PagingPathSilent page), else 0.",
    (),
)
LAST_HEARTBEAT = Metric(
    "mlobs_oncall_last_heartbeat_timestamp_seconds",
    "gauge",
    "Unix time of the last PagingHeartbeat received (0: none since start).",
    (),
)

# The page the receiver raises itself when the heartbeat stops (it cannot come through Alertmanager).
SILENT_ALERT = "PagingPathSilent"
SILENT_RUNBOOK = "paging-path.md"

# Any alertname beyond this many distinct ones is counted as OTHER: the receiver takes whatever is
# posted to it, and a label per arbitrary name would grow without bound.
MAX_ALERTNAMES = 200
# Severities come from the alert's labels or the route's query string, as freely as names: a few are real.
MAX_SEVERITIES = 10
OTHER = "_other"
NO_SEVERITY = "none"

METRICS = (NOTIFICATIONS, REJECTED, JOURNAL_FAILURES, HEARTBEATS, PAGING_PATH_SILENT, LAST_HEARTBEAT)
