"""Regulatory audit log for model decisions (SR 11-7, GDPR).

Append-only, hash-chained records with Ed25519-signed checkpoints; each subject under a random
pseudonym that only an erasable mapping (keyed by HMAC-SHA256 of the raw id) links back; personal
fields and exact model inputs encrypted per subject (AES-GCM) so that `forget` unlinks and
destroys them while the chain still verifies; a 7-day raw store bound to the chain (hash in the
record, expiry from the record's time), purged on a schedule, every read recorded; decisions
replayable with the artifact their record names; a writer thread with self-clocking group
commit, so a decision is answered only once durable. See docs/audit-privacy.md.

    from mlobs.audit import AuditLog, AuditUnavailable, Decision
    from mlobs.settings import get_settings

    log = AuditLog.open(get_settings())            # SQLite by default; MLOBS_AUDIT__STORE_URL
    try:
        receipt = await log.append_async(Decision(
            service="credit", model="gbm", model_version="3", output={"score": 0.81},
            outcome="deny", reason_codes=["debt_ratio"], subject=applicant_id,
            inputs={"income_band": "B"}, personal={"name": name}, raw=request_json,
            model_inputs=features, artifact_sha256=artifacts.content_hash(model_dir),
            trace_id=trace_id, latency_ms=4.2))
    except AuditUnavailable:
        ...                                        # answer 503: never decide without a record
    log.query(subject=applicant_id); log.verify(); log.forget(applicant_id, actor="dpo")

Sync callers use `log.append(...)`. `log.stats()` gives counters for metrics. The library
never writes subject ids or personal values to `logging`.
"""

from __future__ import annotations

import importlib

# Lazy (PEP 562), so a verify worker process imports only what checking a chain needs.
_EXPORTS = {
    "AccessRefused": "mlobs.audit.errors",
    "AuditError": "mlobs.audit.errors",
    "AuditUnavailable": "mlobs.audit.errors",
    "SubjectErased": "mlobs.audit.errors",
    "AuditLog": "mlobs.audit.log",
    "Decision": "mlobs.audit.record",
    "Receipt": "mlobs.audit.record",
    "AuditSettings": "mlobs.audit.settings",
    "Problem": "mlobs.audit.verify",
    "VerifyReport": "mlobs.audit.verify",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlobs.audit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
