"""Test data for the audit tests."""

from __future__ import annotations

from mlobs.audit import Decision


def decision(i: int = 0, subject: str | None = "applicant-1", **kw) -> Decision:
    fields = dict(
        service="credit",
        model="gbm",
        model_version="3",
        output={"score": i / 100},
        outcome="deny" if i % 2 else "approve",
        reason_codes=["debt_ratio"],
        subject=subject,
        inputs={"income_band": "B", "i": i},
        personal={"name": f"Person {i}"},
        trace_id=f"trace-{i}",
        latency_ms=1.5,
    )
    fields.update(kw)
    return Decision(**fields)
