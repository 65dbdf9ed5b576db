"""Audit log alerts and their promtool cases."""

from __future__ import annotations

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
    ]


def group() -> RuleGroup:
    return RuleGroup("audit", "audit", tuple(alerts()))


def cases() -> Suite:
    labels = {SERVICE: "credit", MODEL: "credit-gbm", "model_version": "1"}
    failures = sel(AUDIT_INTEGRITY_FAILURES.total, *(f'{k}="{v}"' for k, v in labels.items()))
    who = ({SERVICE: "credit", MODEL: "credit-gbm"},)
    return Suite("audit", (
        Case("AuditLogIntegrityFailure fires at once when decisions are refused for a broken log",
             {failures: "0 0 0 " + ramp((20, 5), start=0)},
             expects=(Expect("AuditLogIntegrityFailure", "5m", who),)),
        Case("AuditLogIntegrityFailure stays silent while the failure counter does not move",
             {failures: "0x20"},
             expects=(Expect("AuditLogIntegrityFailure", "15m"),)),
    ))
