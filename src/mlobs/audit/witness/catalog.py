"""Audit witness metrics: what the witness cosigned, what it refused and why, and whether it is keeping up
with the log it witnesses. Served on the witness's own /metrics; read by its alerts."""

from __future__ import annotations

from mlobs.catalog import Metric

REASON = "reason"
# Why a round cosigned nothing: a fixed vocabulary, so cardinality stays bounded.
UNREACHABLE = "unreachable"    # no answer, or an error status, from the log's witness endpoints
INVALID = "invalid"            # a checkpoint or proof that does not parse, or is not signed by the pinned key
ROLLBACK = "rollback"          # a smaller tree than one already cosigned (rollback, truncation)
SPLIT_VIEW = "split_view"      # a second root at a size already cosigned
INCONSISTENT = "inconsistent"  # a consistency proof that does not verify
# Verified, but the witness's own store could not keep it: a full, failing or read-only volume, or a history that
# already ends at a tree as large (another witness writing the same directory, a line appended to it).
UNKEPT = "unkept"
REASONS = (UNREACHABLE, INVALID, ROLLBACK, SPLIT_VIEW, INCONSISTENT, UNKEPT)
# The log contradicts what the witness cosigned: its history was rewritten, or it shows two histories.
INTEGRITY_REASONS = (ROLLBACK, SPLIT_VIEW, INCONSISTENT)

WITNESS_COSIGNED = Metric(
    "mlobs_audit_witness_cosigned",
    "counter",
    "Checkpoints of the audit log the witness verified, cosigned and kept.",
    (),
)
WITNESS_TREE_SIZE = Metric(
    "mlobs_audit_witness_tree_size",
    "gauge",
    "Records in the latest checkpoint the witness cosigned: how much of the log it has witnessed.",
    (),
)
WITNESS_REFUSALS = Metric(
    "mlobs_audit_witness_refusals",
    "counter",
    "Rounds in which the witness cosigned nothing, by reason: unreachable, invalid, and the three that mean the "
    "log contradicts what it cosigned (rollback, split_view, inconsistent).",
    (REASON,),
)
WITNESS_LAST_SUCCESS = Metric(
    "mlobs_audit_witness_last_success_timestamp_seconds",
    "gauge",
    "Unix time of the last round that reached the log and verified what it served (the witness's start until "
    "the first); its age is time() minus this.",
    (),
)
WITNESS_HEALTHY = Metric(
    "mlobs_audit_witness_healthy",
    "gauge",
    "1 while the last successful round is within MLOBS_AUDIT_WITNESS__STALE_AFTER_S, else 0: the same rule as "
    "/healthz answering 200 or 503.",
    (),
)
