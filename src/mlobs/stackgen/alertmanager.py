"""Alertmanager config: pages and tickets to their receivers, grouping, and the inhibition rules."""

from __future__ import annotations

import copy
from urllib.parse import urlsplit

from mlobs import catalog
from mlobs.stackgen import config
from mlobs.stackgen.alerts import inhibit_rules
from mlobs.stackgen.yamlout import dump

GROUP_BY = ["alertname", "slo", catalog.SERVICE, catalog.MODEL, catalog.MODEL_VERSION, "job"]
# Alerts one webhook notification carries at most; the rest are counted in its truncatedAlerts. A group of
# thousands would otherwise pass the receiver's body limit (MLOBS_ONCALL__MAX_BODY_BYTES, 4 MB: 8 KB an
# alert here), and a refused notification is a page nobody gets.
WEBHOOK_MAX_ALERTS = 500


# Alertmanager resends a firing group when, at a group_interval tick, the last send is older than
# repeat_interval (notify.DedupStage.needsUpdate in 0.25). A repeat_interval equal to the group_interval would
# miss every other tick by the send's own latency; a little less makes the heartbeat come at every tick.
HEARTBEAT_REPEAT = "50s"
HEARTBEAT_RECEIVER = "oncall-heartbeat"


def heartbeat_url(webhook_url: str) -> str:
    """The receiver's /heartbeat beside the /alerts webhook at `webhook_url`."""
    return urlsplit(webhook_url)._replace(path=config.HEARTBEAT_PATH, query="", fragment="").geturl()


def _webhook(url: str, token_file: str | None = None, send_resolved: bool = True) -> dict:
    hook = {"url": url, "send_resolved": send_resolved, "max_alerts": WEBHOOK_MAX_ALERTS}
    if token_file is not None:  # the receiver's MLOBS_ONCALL__TOKEN, read by Alertmanager at each send
        hook["http_config"] = {"authorization": {"type": "Bearer", "credentials_file": token_file}}
    return hook


def _routes(page: str, ticket: str, heartbeat: str) -> dict:
    return {
        "receiver": ticket,
        "group_by": GROUP_BY,
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "12h",
        "routes": [
            # First: the heartbeat is neither a page nor a ticket, and nothing inhibits it.
            {"receiver": heartbeat, "matchers": [f'alertname="{config.HEARTBEAT_ALERT}"'], "group_wait": "0s",
             "group_interval": config.HEARTBEAT_INTERVAL, "repeat_interval": HEARTBEAT_REPEAT},
            {"receiver": page, "matchers": ['severity="page"'], "group_wait": "10s", "repeat_interval": "1h"},
            {"receiver": ticket, "matchers": ['severity="ticket"'], "group_wait": "5m", "repeat_interval": "24h"},
        ],
    }


def config_dict(webhook_url: str = config.ONCALL_WEBHOOK_URL, token_file: str | None = None) -> dict:
    """The default config: every alert to the on-call webhook, pages and tickets told apart by receiver, and
    the heartbeat to the receiver's /heartbeat by the same token and network; with `token_file`, each webhook
    call carries the receiver's token read from that file."""
    sep = "&" if "?" in webhook_url else "?"
    return {
        "global": {"resolve_timeout": "5m"},
        "route": _routes("oncall-page", "oncall-ticket", HEARTBEAT_RECEIVER),
        "receivers": [
            {"name": HEARTBEAT_RECEIVER,
             "webhook_configs": [_webhook(heartbeat_url(webhook_url), token_file, send_resolved=False)]},
            {"name": "oncall-page",
             "webhook_configs": [_webhook(f"{webhook_url}{sep}severity=page", token_file)]},
            {"name": "oncall-ticket",
             "webhook_configs": [_webhook(f"{webhook_url}{sep}severity=ticket", token_file)]},
        ],
        "inhibit_rules": copy.deepcopy(inhibit_rules()),
    }


# In production the heartbeat goes to a dead man's switch outside the stack, which pages by another channel
# when it stops (a Healthchecks.io check, Opsgenie heartbeat, PagerDuty's or your own; a webhook POST each).
DEAD_MANS_SWITCH = {"name": "dead-mans-switch", "webhook_configs": [
    {"url": "https://deadmans-switch.example.invalid/REPLACE_WITH_YOUR_CHECK", "send_resolved": False}]}

_SUMMARY = '{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}'
_RUNBOOKS = '{{ range .Alerts }}{{ .Annotations.runbook_url }}\n{{ end }}'


def slack_example() -> dict:
    """Pages to PagerDuty-less teams' Slack channel; secrets are read from files, never from this config."""
    slack = {
        "api_url_file": "/etc/alertmanager/secrets/slack-webhook-url",
        "send_resolved": True,
        "title": '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})',
        "text": _SUMMARY + "Runbook: " + _RUNBOOKS,
    }
    return {
        "global": {"resolve_timeout": "5m"},
        "route": _routes("slack-page", "slack-ticket", DEAD_MANS_SWITCH["name"]),
        "receivers": [
            copy.deepcopy(DEAD_MANS_SWITCH),
            {"name": "slack-page", "slack_configs": [{**slack, "channel": "#ml-oncall"}]},
            {"name": "slack-ticket", "slack_configs": [{**slack, "channel": "#ml-tickets"}]},
        ],
        "inhibit_rules": copy.deepcopy(inhibit_rules()),
    }


def pagerduty_example() -> dict:
    """Pages to PagerDuty (Events API v2), tickets to the webhook."""
    return {
        "global": {"resolve_timeout": "5m"},
        "route": _routes("pagerduty", "oncall-ticket", DEAD_MANS_SWITCH["name"]),
        "receivers": [
            copy.deepcopy(DEAD_MANS_SWITCH),
            {"name": "pagerduty", "pagerduty_configs": [{
                "routing_key": "REPLACE_WITH_PAGERDUTY_ROUTING_KEY",
                "severity": "critical",
                "description": '{{ .CommonLabels.alertname }}: {{ .CommonAnnotations.summary }}',
                "links": [{"href": '{{ (index .Alerts 0).Annotations.runbook_url }}', "text": "Runbook"}],
                "send_resolved": True,
            }]},
            {"name": "oncall-ticket",
             "webhook_configs": [_webhook(f"{config.ONCALL_WEBHOOK_URL}?severity=ticket")]},
        ],
        "inhibit_rules": copy.deepcopy(inhibit_rules()),
    }


def files() -> dict[str, str]:
    src = "src/mlobs/stackgen/alertmanager.py"
    return {
        "stack/alertmanager/alertmanager.yml": dump(config_dict(token_file=config.ONCALL_TOKEN_FILE), source=src),
        "stack/alertmanager/examples/slack.yml": dump(
            slack_example(), source=src + " (example: put the Slack webhook URL in the api_url_file)"),
        "stack/alertmanager/examples/pagerduty.yml": dump(
            pagerduty_example(), source=src + " (example: replace the routing key, or template it from a secret)"),
    }
