"""Errors raised by the audit library."""

from __future__ import annotations

import os
from pathlib import Path


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


def cannot_open(path: Path, exc: BaseException) -> AuditError:
    """A database of the audit log (the log, the subject keys) that cannot be opened. A full volume reads
    as "disk I/O error" or "unable to open", so the message says how much room there is: a service that
    cannot start serves no gauge of it."""
    try:
        stat = os.statvfs(Path(path).parent)
        free = str(stat.f_bavail * stat.f_frsize)
    except OSError:
        free = "unknown"
    return AuditError(f"{path} cannot be opened: {exc}; {free} bytes free on its volume")
