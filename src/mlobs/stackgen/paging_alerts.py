"""The paging path's own alerts: the heartbeat that proves it delivers, and Alertmanager failing to send."""

from __future__ import annotations

from mlobs.stackgen import config
from mlobs.stackgen.alert_spec import Alert, RuleGroup
from mlobs.stackgen.ruletest_spec import Case, Expect, Suite, ramp

# Alertmanager's own counter of notifications its integrations failed to deliver (after every retry).
FAILED = "alertmanager_notifications_failed_total"
RUNBOOK = "paging-path.md"


def alerts() -> list[Alert]:
    return [
        Alert(
            name=config.HEARTBEAT_ALERT,
            expr="vector(1)",
            for_="0m",
            severity="heartbeat",
            summary="The paging path delivers (always firing)",
            description="Always firing, by design. Alertmanager sends it about once a minute to the on-call "
                        "receiver's /heartbeat (in production: a dead man's switch outside the stack) by the same "
                        "route, token and network as every page. When it stops arriving, the receiver raises "
                        "PagingPathSilent itself: no page can reach on-call.",
            runbook=RUNBOOK,
            grafana=False,
        ),
        Alert(
            name="AlertmanagerNotificationsFailing",
            expr=f"sum by (integration) (rate({FAILED}[5m])) > 0",
            for_="5m",
            severity="page",
            summary="Alertmanager fails to deliver {{ $labels.integration }} notifications",
            description="Alertmanager's {{ $labels.integration }} integration has failed to deliver notifications "
                        "for 5 minutes, after its retries: a receiver down, a token file missing or wrong, a URL "
                        "unreachable. Pages sent that way are lost; this one reaches on-call only by another "
                        "integration, so the receiver's PagingPathSilent is the page to expect.",
            runbook=RUNBOOK,
        ),
    ]


def group() -> RuleGroup:
    return RuleGroup("paging", "paging", tuple(alerts()))


def cases() -> Suite:
    failed = f'{FAILED}{{integration="webhook", job="alertmanager"}}'
    return Suite("paging", (
        Case(f"{config.HEARTBEAT_ALERT} fires always, with no series at all", {},
             expects=(Expect(config.HEARTBEAT_ALERT, "1m", ({},)), Expect(config.HEARTBEAT_ALERT, "3h", ({},)))),
        Case("AlertmanagerNotificationsFailing fires when the webhook keeps failing for 5 minutes",
             {failed: "0 0 " + ramp((2, 15), start=0)},
             expects=(Expect("AlertmanagerNotificationsFailing", "4m"),
                      Expect("AlertmanagerNotificationsFailing", "10m", ({"integration": "webhook"},)))),
        Case("AlertmanagerNotificationsFailing stays silent while every notification is delivered",
             {failed: "0x20"},
             expects=(Expect("AlertmanagerNotificationsFailing", "15m"),)),
    ))
