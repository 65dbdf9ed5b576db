"""The filesystems that hold the audit stores (a log, its subject keys, a witness's history), and how much
room is left on them.

A full disk does not lose decisions (each is refused with a 503 until it is durable), but it stops
the service. Free space is read when Prometheus scrapes, so `predict_linear` can tell on-call days
ahead, and nothing is done on the request path.
"""

from __future__ import annotations

import math
import os
from functools import partial
from pathlib import Path

from mlobs import catalog
from mlobs.audit.errors import AuditError
from mlobs.audit.settings import AuditSettings
from mlobs.metrics import make


def store_dirs(resolved: AuditSettings) -> dict[str, Path]:
    """{store: directory} of the files this process writes, from settings with every path set (an open
    AuditLog's): the log, its raw store and lookup (on SQLite only; a PostgreSQL server's disk is its
    own), the subject keys, the signing key's directory where it is not theirs (it takes the last signed
    head at every checkpoint), and the checkpoint mirror if there is one."""
    dirs = {}
    if resolved.store_url and resolved.store_url.startswith("sqlite:///"):
        dirs["log"] = Path(resolved.store_url.removeprefix("sqlite:///")).parent
    if resolved.subject_keys_path is not None:
        dirs["keys"] = Path(resolved.subject_keys_path).parent
    if resolved.keys_dir is not None and Path(resolved.keys_dir) != dirs.get("keys"):
        dirs["signing"] = Path(resolved.keys_dir)
    if resolved.checkpoint_mirror is not None:
        dirs["mirror"] = Path(resolved.checkpoint_mirror).parent
    return dirs


def free_bytes(directory: Path) -> float:
    """Bytes an unprivileged writer may still use there (the root reserve left out); NaN if unreadable."""
    return _statvfs(directory, "f_bavail")


def cannot_open(path: Path, exc: BaseException) -> AuditError:
    """A database of the audit log (the log, the subject keys) that cannot be opened. A full volume reads
    as "disk I/O error" or "unable to open", so the message says how much room there is: a service that
    cannot start serves no gauge of it."""
    free = free_bytes(Path(path).parent)
    return AuditError(f"{path} cannot be opened: {exc}; {'unknown' if math.isnan(free) else int(free)} bytes free "
                      "on its volume")


def size_bytes(directory: Path) -> float:
    return _statvfs(directory, "f_blocks")


def _statvfs(directory: Path, blocks: str) -> float:
    try:
        stat = os.statvfs(directory)
    except OSError:
        return math.nan
    return float(getattr(stat, blocks) * stat.f_frsize)

def export(registry, service: str, dirs: dict[str, Path]) -> None:
    """Free and total bytes of each store's filesystem, read at each scrape (a statvfs call each)."""
    free, size = make(catalog.AUDIT_VOLUME_FREE, registry), make(catalog.AUDIT_VOLUME_SIZE, registry)
    for store, directory in dirs.items():
        free.labels(service, store).set_function(partial(free_bytes, directory))
        size.labels(service, store).set_function(partial(size_bytes, directory))
