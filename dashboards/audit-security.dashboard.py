"""Audit and security: decisions made durable before they were answered, refusals, and the
perimeter (auth failures, rate limits, out-of-distribution inputs, security events) by client."""

from mlobs import catalog as c
from mlobs.protect import catalog as p
from mlobs.stackgen.dashboards import RATE, dashboard as make, grid, prom, q, row, timeseries

V = f"{c.SERVICE}, {c.MODEL_VERSION}"
WAIT = c.AUDIT_APPEND_DURATION


def wait_quantile(quantile: float) -> str:
    return f"histogram_quantile({quantile}, sum by (le, {c.SERVICE}) (rate({q(WAIT, series=WAIT.bucket)}[{RATE}])))"


dashboard = make("audit-security", "mlobs / Audit and security", tags=("audit", "security"), panels=grid([
    [row("Audit log: every answered decision is durable first")],
    [timeseries("Decisions recorded per second", prom(
        f"sum by ({V}) (rate({q(c.AUDIT_RECORDS, series=c.AUDIT_RECORDS.total)}[{RATE}]))",
        "{{service}} {{model_version}}"), unit="reqps"),
     timeseries("Decisions refused with 503: the audit log could not record them", prom(
         f"sum by ({V}) (rate({q(c.AUDIT_UNAVAILABLE, series=c.AUDIT_UNAVAILABLE.total)}[{RATE}]))",
         "{{service}} {{model_version}}"), unit="reqps",
         description="Should be 0. Anything else: the store is down or its queue is full; see the service logs."),
     timeseries("Wait for durability (group commit)", prom(wait_quantile(0.5), "p50 {{service}}"),
                prom(wait_quantile(0.99), "p99 {{service}}", ref="B"), unit="s")],
    [timeseries("Room left on the audit log's volumes", prom(
        f"{q(c.AUDIT_VOLUME_FREE)} / {q(c.AUDIT_VOLUME_SIZE)}", "{{service}} {{store}}"), unit="percentunit",
        description="store=log: the records, raw payloads and lookup (SQLite); store=keys: the subject keys. "
                    "When a volume is full, every decision is refused with a 503."),
     timeseries("Days until the audit log's volumes are full, at the last 6 hours' rate", prom(
         f"({q(c.AUDIT_VOLUME_FREE)} / -deriv({q(c.AUDIT_VOLUME_FREE)}[6h]) / 86400) > 0",
         "{{service}} {{store}}"), unit="d",
         description="Empty while a volume is not filling. AuditLogDiskFillingUp: under 4 days and 40% free."),
     timeseries("Oldest raw payload held, against its retention (days)", prom(
         f"{q(c.AUDIT_RAW_OLDEST_AGE)} / 86400", "oldest {{service}}"),
         prom(f"{q(c.AUDIT_RAW_RETENTION)} / 86400", "retention {{service}}", ref="B"), unit="d",
         description="Personal data in the raw store: purged once past its retention. "
                     "AuditRawPayloadsPastRetention: more than 3 hours late.")],
    [row("Perimeter, by client")],
    [timeseries("Authentication failures (401) by reason", prom(
        f"sum by ({c.SERVICE}, reason) (rate({q(p.AUTH_FAILURES, series=p.AUTH_FAILURES.total)}[{RATE}]))",
        "{{service}} {{reason}}"), unit="reqps"),
     timeseries("Rate-limited requests (429) by client", prom(
         f"sum by ({c.SERVICE}, {p.CLIENT}, limit) (rate({q(p.RATE_LIMITED, series=p.RATE_LIMITED.total)}[{RATE}]))",
         "{{service}} {{client}} {{limit}}"), unit="reqps"),
     timeseries("Requests by client and status", prom(
         f"sum by ({c.SERVICE}, {p.CLIENT}, status) "
         f"(rate({q(p.CLIENT_REQUESTS, series=p.CLIENT_REQUESTS.total)}[{RATE}]))",
         "{{service}} {{client}} {{status}}"), unit="reqps")],
    [timeseries("Out-of-distribution inputs by client", prom(
        f"sum by ({c.SERVICE}, {p.CLIENT}) (rate({q(p.OOD_INPUTS, series=p.OOD_INPUTS.total)}[{RATE}]))",
        "{{service}} {{client}}"), unit="reqps"),
     timeseries("Input diversity by client (distinct / all; low = repeated probing)", prom(
         f"max by ({c.SERVICE}, {p.CLIENT}) ({q(p.INPUT_DIVERSITY)})", "{{service}} {{client}}"), unit="percentunit"),
     timeseries("Distinct inputs by client over the window (canonical forms; a sweep = model extraction)", prom(
         f"max by ({c.SERVICE}, {p.CLIENT}) ({q(p.DISTINCT_INPUTS)})", "{{service}} {{client}}"), unit="short",
         description="Re-encoding does not make an input new. High volume with diversity near 1: "
                     "see the ModelExtractionSuspected runbook."),
     timeseries("Security events by kind", prom(
         f"sum by ({c.SERVICE}, kind) (rate({q(p.SECURITY_EVENTS, series=p.SECURITY_EVENTS.total)}[{RATE}]))",
         "{{service}} {{kind}}"), unit="reqps")],
    [timeseries("Connections refused by the server (slow clients, per-address cap, ambiguous framing)", prom(
        f"sum by ({c.SERVICE}, reason) "
        f"(rate({q(p.CONNECTIONS_REFUSED, series=p.CONNECTIONS_REFUSED.total)}[{RATE}]))",
        "{{service}} {{reason}}"), unit="reqps",
        description="head_timeout / body_timeout: clients too slow to send a request (slowloris); "
                    "per_address_cap: one address opening too many connections; bad_framing: request "
                    "smuggling attempts or broken clients (Content-Length with Transfer-Encoding, obs-fold, "
                    "bare LF).")],
]))
