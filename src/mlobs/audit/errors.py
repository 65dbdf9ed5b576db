"""Errors raised by the audit library."""

from __future__ import annotations


class AuditError(Exception):
    """Base class for audit errors."""


class AuditUnavailable(AuditError):
    """The record could not be made durable (queue full, store failed, log closed).

    A service must refuse the decision (HTTP 503) rather than answer without a record.
    """


class AccessRefused(AuditError):
    """A read of personal or raw data without a stated reason."""


class SubjectErased(AuditError):
    """The subject's key was destroyed: their personal data can no longer be read."""


class RawRefused(AuditError):
    """A raw payload that failed its integrity checks (missing, swapped, altered, bad tag): not
    served, and the refused read is recorded."""

