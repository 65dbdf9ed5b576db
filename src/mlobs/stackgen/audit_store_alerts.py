"""The audit log's storage: running out of room, decisions it could not make durable, and raw payloads
kept past their retention. Alerts and promtool cases.

A full volume loses no decision (each is refused with a 503 until it is durable) but stops the
service, so the warning comes days ahead, from the trend of the free space, and the page hours ahead.
"""

from __future__ import annotations

from mlobs.audit.storage.purge_clock import STEP_S
from mlobs.catalog import (AUDIT_CLOCK_STEP, AUDIT_RAW_OLDEST_AGE, AUDIT_RAW_RETENTION, AUDIT_UNAVAILABLE,
                           AUDIT_VOLUME_FREE, AUDIT_VOLUME_SIZE, MODEL, SERVICE, STORE)
from mlobs.stackgen.alert_spec import Alert
from mlobs.stackgen.promql import by, sel
from mlobs.stackgen.ruletest_spec import Case, Expect, ramp

FREE, SIZE = AUDIT_VOLUME_FREE.name, AUDIT_VOLUME_SIZE.name
# A restarting service misses scrapes and its gauges go stale at once: their last value stands this long,
# so a page or ticket neither resolves nor starts its `for` again while the service restarts.
BRIDGE = "10m"
TICKET_FREE, TICKET_HORIZON = 0.40, "4 * 86400"  # under 40% free and full within 4 days at the last 6 hours' rate
PAGE_FREE, PAGE_TREND_FREE, PAGE_HORIZON = 0.05, 0.15, "4 * 3600"
UNREADABLE_FOR = "10m"  # a volume's free space unknown this long: not one slow scrape
REFUSED_IN_5M = 3  # one refused decision is a retry for its caller; several in a row are an outage
# Hourly purges keep the oldest payload under retention + 1 hour; verify names one a day past its expiry.
RAW_LATE = "3 * 3600"


def alerts() -> list[Alert]:
    ratio = f"last_over_time({FREE}[{BRIDGE}]) / last_over_time({SIZE}[{BRIDGE}])"
    return [
        Alert(
            name="AuditLogDiskFillingUp",
            expr=f"({ratio} < {TICKET_FREE}) and predict_linear({FREE}[6h], {TICKET_HORIZON}) < 0",
            for_="1h",
            severity="ticket",
            summary="The volume of {{ $labels.service }}'s audit {{ $labels.store }} fills within 4 days",
            description="At the rate of the last 6 hours, the filesystem that holds the audit {{ $labels.store }} "
                        "(log: records, raw payloads and lookup; keys: the subject keys; signing: the signing key "
                        "and its last signed head; mirror: the checkpoint mirror; witness: the checkpoints a "
                        "witness cosigned) is full within 4 days; then every decision is refused with a 503, the "
                        "mirror stops receiving checkpoints, or the witness cosigns nothing more. Grow the volume: "
                        "what it holds cannot be deleted.",
            runbook="audit-log-disk.md",
        ),
        Alert(
            name="AuditLogDiskAlmostFull",
            expr=f"({ratio} < {PAGE_FREE}) or "
                 f"(({ratio} < {PAGE_TREND_FREE}) and predict_linear({FREE}[6h], {PAGE_HORIZON}) < 0)",
            for_="5m",
            severity="page",
            summary="The volume of {{ $labels.service }}'s audit {{ $labels.store }} is almost full",
            description="Under 5% of the filesystem that holds the audit {{ $labels.store }} is free, or "
                        "under 15% and full within 4 hours at the last 6 hours' rate. When it is full, every decision "
                        "is refused with a 503 (log, keys, signing), the mirror misses checkpoints (mirror), or the "
                        "witness cosigns nothing (witness), until there is room again.",
            runbook="audit-log-disk.md",
        ),
        Alert(
            name="AuditVolumeUnreadable",
            # NaN is the one value unequal to itself: the volume did not answer within the scrape, or is gone.
            # Counted, so the alert's value is a number (Grafana's rules drop NaN as no data).
            expr=f"count {by(SERVICE, STORE)} ({FREE} != {FREE})",
            for_=UNREADABLE_FOR,
            severity="ticket",
            summary="The volume of {{ $labels.service }}'s audit {{ $labels.store }} does not answer or is gone",
            description="Its free space has been unknown for 10 minutes: the filesystem does not answer (a hung NFS "
                        "mount: every call under it blocks) or its directory is gone. The disk alerts cannot see "
                        "it fill. On the log's, the keys' or the signing key's volume decisions are refused "
                        "(AuditLogUnavailable pages); on the mirror's, checkpoints wait for it and decisions go on; "
                        "on a witness's, it cosigns nothing (AuditWitnessStale).",
            runbook="audit-log-disk.md",
        ),
        Alert(
            name="AuditLogUnavailable",
            expr=f"sum {by(SERVICE, MODEL)} (increase({AUDIT_UNAVAILABLE.total}[5m])) >= {REFUSED_IN_5M}",
            for_="5m",
            severity="page",
            summary="{{ $labels.service }} refuses decisions: the audit log cannot make them durable",
            description="Decisions are answered with a 503 because the audit log could not write them (a full disk, "
                        "a locked or unreachable store, a failing key store). Nothing refused was recorded or "
                        "answered; callers must retry.",
            runbook="audit-log-disk.md",
        ),
        Alert(
            name="AuditRawPayloadsPastRetention",
            expr=f"last_over_time({AUDIT_RAW_OLDEST_AGE.name}[{BRIDGE}]) > "
                 f"last_over_time({AUDIT_RAW_RETENTION.name}[{BRIDGE}]) + {RAW_LATE}",
            for_="15m",
            severity="ticket",
            summary="{{ $labels.service }} holds raw request payloads past their retention",
            description="The oldest raw request payload (personal data, encrypted) is more than 3 hours past "
                        "MLOBS_AUDIT__RAW_RETENTION_DAYS: purges fail, are off (MLOBS_AUDIT__RAW_PURGE_INTERVAL_S=0 "
                        "with no `mlobs audit purge` run elsewhere) or stall. `mlobs audit verify` fails once one "
                        "is a day late.",
            runbook="audit-raw-retention.md",
        ),
        Alert(
            name="AuditClockStepped",
            expr=f"abs(last_over_time({AUDIT_CLOCK_STEP.name}[{BRIDGE}])) > {STEP_S:g}",
            for_="15m",
            severity="ticket",
            summary="{{ $labels.service }}'s wall clock was stepped: purges hold back",
            description="The wall clock of the host that writes the audit log runs more than a minute from the real "
                        "time elapsed since the service started (an NTP correction, a VM resumed, a wrong RTC, "
                        "someone set it). Until it is resolved, raw payloads are purged only when both clocks call "
                        "them expired, and the records written since carry the stepped time. Find which clock is "
                        "right; a restart trusts the wall clock again.",
            runbook="audit-clock.md",
        ),
    ]


def cases() -> tuple[Case, ...]:
    gib = 2**30
    volume = (f'{SERVICE}="credit"', f'{STORE}="log"')
    free, size = sel(FREE, *volume), sel(SIZE, *volume)
    on_volume = ({SERVICE: "credit", STORE: "log"},)
    week = 7 * 86400
    age, retention = sel(AUDIT_RAW_OLDEST_AGE.name, f'{SERVICE}="credit"'), sel(AUDIT_RAW_RETENTION.name,
                                                                              f'{SERVICE}="credit"')
    step = sel(AUDIT_CLOCK_STEP.name, f'{SERVICE}="credit"')
    refused = sel(AUDIT_UNAVAILABLE.total, f'{SERVICE}="credit"', f'{MODEL}="credit-gbm"', 'model_version="1"')
    return (
        Case("AuditLogDiskFillingUp fires when a volume under 40% free fills within 4 days",
             {size: f"{100 * gib}x600", free: f"{35 * gib}-{gib // 100}x600"},  # 0.6 GiB an hour: 58 hours left
             expects=(Expect("AuditLogDiskFillingUp", "8h", on_volume),)),
        Case("AuditLogDiskFillingUp stays silent for a volume that stays at 30% free",
             {size: f"{100 * gib}x600", free: f"{30 * gib}x600"},
             expects=(Expect("AuditLogDiskFillingUp", "8h"), Expect("AuditLogDiskAlmostFull", "8h"))),
        Case("AuditLogDiskAlmostFull fires when under 5% of the volume is free",
             {size: f"{100 * gib}x60", free: f"{4 * gib}x60"},
             expects=(Expect("AuditLogDiskAlmostFull", "30m", on_volume),)),
        Case("AuditLogDiskAlmostFull fires when a volume under 15% free is full within 4 hours",
             {size: f"{100 * gib}x120", free: f"{14 * gib}-{gib // 20}x120"},  # 3 GiB an hour
             expects=(Expect("AuditLogDiskAlmostFull", "1h", on_volume),)),
        Case("AuditLogUnavailable fires when decisions keep being refused for 5 minutes",
             {refused: "0 0 " + ramp((2, 20), start=0)},
             expects=(Expect("AuditLogUnavailable", "12m", ({SERVICE: "credit", MODEL: "credit-gbm"},)),)),
        Case("AuditRawPayloadsPastRetention fires when the oldest raw payload stays more than 3 hours late",
             {age: f"{week}+60x300", retention: f"{week}x300"},
             expects=(Expect("AuditRawPayloadsPastRetention", "2h", ()),
                      Expect("AuditRawPayloadsPastRetention", "3h20m", ({SERVICE: "credit"},)))),
        Case("AuditRawPayloadsPastRetention keeps firing while the service restarts and misses scrapes",
             {age: f"{week + 4 * 3600}+60x60 stale _x2 {week + 4 * 3600 + 63 * 60}+60x60",
              retention: f"{week}x60 stale _x2 {week}x60"},
             expects=(Expect("AuditRawPayloadsPastRetention", "59m", ({SERVICE: "credit"},)),
                      Expect("AuditRawPayloadsPastRetention", "64m", ({SERVICE: "credit"},)))),
        Case("AuditRawPayloadsPastRetention stays silent while hourly purges keep the oldest under an hour late",
             {age: " ".join([f"{week - 3600}+60x59"] * 5), retention: f"{week}x300"},
             expects=(Expect("AuditRawPayloadsPastRetention", "4h"),)),
        Case("AuditClockStepped fires when the wall clock stays an hour behind the time elapsed",
             {step: "0x10 -3600x60"},
             expects=(Expect("AuditClockStepped", "20m"), Expect("AuditClockStepped", "30m", ({SERVICE: "credit"},)))),
        Case("AuditClockStepped stays silent while the clock is only slewed by seconds",
             {step: "0+0.5x60 30x60"},
             expects=(Expect("AuditClockStepped", "1h"), Expect("AuditClockStepped", "2h"))),
        Case("AuditClockStepped resolves once a restart trusts the corrected clock again",
             {step: "31536000x30 stale _x2 0x30"},
             expects=(Expect("AuditClockStepped", "25m", ({SERVICE: "credit"},)), Expect("AuditClockStepped", "50m"))),
        Case("AuditLogDiskAlmostFull fires 5 minutes after a volume first appears already almost full",
             {size: f"_x30 {100 * gib}x30", free: f"_x30 {3 * gib}x30"},
             expects=(Expect("AuditLogDiskAlmostFull", "33m"), Expect("AuditLogDiskAlmostFull", "36m", on_volume))),
        Case("AuditLogDiskAlmostFull resolves once the volume is grown online",
             {size: f"{100 * gib}x20 {200 * gib}x20", free: f"{4 * gib}x20 {104 * gib}x20"},
             expects=(Expect("AuditLogDiskAlmostFull", "15m", on_volume), Expect("AuditLogDiskAlmostFull", "25m"))),
        Case("AuditLogDiskAlmostFull keeps firing while the service restarts and misses scrapes",
             {size: f"{100 * gib}x20 stale _x2 {100 * gib}x20", free: f"{4 * gib}x20 stale _x2 {4 * gib}x20"},
             expects=(Expect("AuditLogDiskAlmostFull", "19m", on_volume),
                      Expect("AuditLogDiskAlmostFull", "24m", on_volume))),
        Case("AuditLogDiskFillingUp keeps firing while the service restarts and misses scrapes",
             {size: f"{100 * gib}x600 stale _x2 {100 * gib}x200",
              free: f"{35 * gib}-{gib // 100}x600 stale _x2 {29 * gib}-{gib // 100}x200"},
             expects=(Expect("AuditLogDiskFillingUp", "9h59m", on_volume),
                      Expect("AuditLogDiskFillingUp", "10h5m", on_volume))),
        Case("AuditLogUnavailable keeps firing when the service restarts during the outage, its counter from 0",
             {refused: "0 0 " + ramp((2, 8)) + " stale _ " + ramp((2, 12))},
             expects=(Expect("AuditLogUnavailable", "12m", ({SERVICE: "credit", MODEL: "credit-gbm"},)),
                      Expect("AuditLogUnavailable", "20m", ({SERVICE: "credit", MODEL: "credit-gbm"},)))),
        Case("AuditVolumeUnreadable fires when a volume's free space stays unknown for 10 minutes",
             {size: f"{100 * gib}x5 " + " ".join(["NaN"] * 30), free: f"{50 * gib}x5 " + " ".join(["NaN"] * 30)},
             expects=(Expect("AuditVolumeUnreadable", "14m"), Expect("AuditVolumeUnreadable", "16m", on_volume))),
        Case("AuditVolumeUnreadable stays silent for a volume that does not answer one scrape",
             {size: f"{100 * gib}x30", free: f"{50 * gib}x5 NaN {50 * gib}x5 NaN {50 * gib}x20"},
             expects=(Expect("AuditVolumeUnreadable", "30m"),)),
        Case("AuditLogUnavailable stays silent for a single refused decision",
             {refused: "0 0 1x20"},
             expects=(Expect("AuditLogUnavailable", "5m"), Expect("AuditLogUnavailable", "12m"))),
    )
