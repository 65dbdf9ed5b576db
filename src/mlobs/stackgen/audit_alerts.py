"""Audit log alerts and their promtool cases."""

from __future__ import annotations

from mlobs.audit.witness import catalog as witness
from mlobs.stackgen import audit_store_alerts
from mlobs.catalog import AUDIT_INTEGRITY_FAILURES, MODEL, SERVICE
from mlobs.stackgen.alert_spec import Alert, RuleGroup
from mlobs.stackgen.promql import by, sel
from mlobs.stackgen.ruletest_spec import Case, Expect, Suite, ramp


def alerts() -> list[Alert]:
    failures = AUDIT_INTEGRITY_FAILURES.total
    return [
        Alert(
            name="AuditLogIntegrityFailure",
            expr=f"sum {by(SERVICE, MODEL)} (increase({failures}[5m])) > 0",
            for_="0m",
            severity="page",
            summary="The audit log of {{ $labels.service }} contradicts what its key last signed",
            description="The log's store no longer matches the last tree head its signing key signed (rolled back, "
                        "truncated, or rewritten under a signed checkpoint). Nothing is signed or recorded any more "
                        "and every decision is refused with a 503 until it is investigated.",
            runbook="audit-log-integrity.md",
        ),
        Alert(
            name="AuditWitnessRefusedLog",
            expr=f"sum (increase({_witness_refusals(witness.INTEGRITY_REASONS)}[5m])) > 0",
            for_="0m",
            severity="page",
            summary="The audit witness saw the log contradict a checkpoint it cosigned",
            description="The witness was served a smaller tree than one it cosigned (rollback, truncation), a "
                        "second root at a size it cosigned (split view), or a consistency proof that does not "
                        "verify. It cosigns nothing more until the log is consistent with its last cosigned "
                        "checkpoint again.",
            runbook="audit-witness.md",
        ),
        Alert(
            name="AuditWitnessStale",
            expr=f'{witness.WITNESS_HEALTHY.name} == 0 or up{{job="{WITNESS_JOB}"}} == 0',
            for_="5m",
            severity="ticket",
            summary="The audit witness has not verified the log for longer than its bound",
            description="The witness has not reached the log and verified what it served for longer than "
                        "MLOBS_AUDIT_WITNESS__STALE_AFTER_S (its /healthz answers 503), or is not scraped: "
                        "checkpoints signed meanwhile are not witnessed.",
            runbook="audit-witness.md",
        ),
        *audit_store_alerts.alerts(),
    ]


WITNESS_JOB = "audit-witness"  # the witness's scrape job (compose, make local) and Service (Kubernetes)


def _witness_refusals(reasons: tuple[str, ...]) -> str:
    return sel(witness.WITNESS_REFUSALS.total, f'{witness.REASON}=~"{"|".join(reasons)}"')


def group() -> RuleGroup:
    return RuleGroup("audit", "audit", tuple(alerts()))


def cases() -> Suite:
    labels = {SERVICE: "credit", MODEL: "credit-gbm", "model_version": "1"}
    failures = sel(AUDIT_INTEGRITY_FAILURES.total, *(f'{k}="{v}"' for k, v in labels.items()))
    who = ({SERVICE: "credit", MODEL: "credit-gbm"},)

    def refusals(reason: str) -> str:
        return sel(witness.WITNESS_REFUSALS.total, f'{witness.REASON}="{reason}"', f'job="{WITNESS_JOB}"')
    return Suite("audit", (
        Case("AuditLogIntegrityFailure fires at once when decisions are refused for a broken log",
             {failures: "0 0 0 " + ramp((20, 5), start=0)},
             expects=(Expect("AuditLogIntegrityFailure", "5m", who),)),
        Case("AuditLogIntegrityFailure stays silent while the failure counter does not move",
             {failures: "0x20"},
             expects=(Expect("AuditLogIntegrityFailure", "15m"),)),
        Case("AuditWitnessRefusedLog fires at once when the witness refuses a rolled-back tree",
             {refusals(witness.ROLLBACK): "0 0 0 " + ramp((1, 5), start=0), refusals(witness.UNREACHABLE): "0x10"},
             expects=(Expect("AuditWitnessRefusedLog", "5m", ({},)),)),
        Case("AuditWitnessRefusedLog stays silent while the witness only fails to reach the log",
             {refusals(witness.UNREACHABLE): ramp((3, 20), start=0), refusals(witness.ROLLBACK): "0x20"},
             expects=(Expect("AuditWitnessRefusedLog", "15m"),)),
        Case("AuditWitnessStale fires when the witness stays unhealthy for 5 minutes",
             {f'{witness.WITNESS_HEALTHY.name}{{job="{WITNESS_JOB}"}}': "1 1 0x10",
              f'up{{job="{WITNESS_JOB}"}}': "1x12"},
             expects=(Expect("AuditWitnessStale", "5m"),
                      Expect("AuditWitnessStale", "9m", ({"job": WITNESS_JOB},)))),
        *audit_store_alerts.cases(),
    ))
