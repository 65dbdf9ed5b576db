"""Regulatory audit log for model decisions (SR 11-7, GDPR).

Append-only, hash-chained records with Ed25519-signed checkpoints; subject ids pseudonymised
with HMAC-SHA256 (rotating keyring); personal inputs encrypted per subject (AES-GCM) so that
`forget` destroys them while the chain still verifies; a 7-day raw store whose every read is
recorded; a writer thread with group commit, so a decision is answered only once durable.

    from mlobs.audit import AuditLog, AuditUnavailable, Decision
    from mlobs.settings import get_settings

    log = AuditLog.open(get_settings())            # SQLite by default; MLOBS_AUDIT__STORE_URL
    try:
        receipt = await log.append_async(Decision(
            service="credit", model="gbm", model_version="3", output={"score": 0.81},
            outcome="deny", reason_codes=["debt_ratio"], subject=applicant_id,
            inputs={"income_band": "B"}, personal={"name": name}, raw=request_json,
            trace_id=trace_id, latency_ms=4.2))
    except AuditUnavailable:
        ...                                        # answer 503: never decide without a record
    log.query(subject=applicant_id); log.verify(); log.forget(applicant_id, actor="dpo")

Sync callers use `log.append(...)`. `log.stats()` gives counters for metrics. The library
never writes subject ids or personal values to `logging`.
"""

from __future__ import annotations

from mlobs.audit.errors import AccessRefused, AuditError, AuditUnavailable, SubjectErased
from mlobs.audit.log import AuditLog
from mlobs.audit.record import Decision, Receipt
from mlobs.audit.settings import AuditSettings
from mlobs.audit.verify import Problem, VerifyReport

__all__ = [
    "AccessRefused",
    "AuditError",
    "AuditLog",
    "AuditSettings",
    "AuditUnavailable",
    "Decision",
    "Problem",
    "Receipt",
    "SubjectErased",
    "VerifyReport",
]
