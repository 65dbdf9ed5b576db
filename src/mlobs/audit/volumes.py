"""The filesystems that hold the audit stores (a log, its subject keys, a witness's history), and how much
room is left on them.

A full disk does not lose decisions (each is refused with a 503 until it is durable), but it stops
the service. Free space is read when Prometheus scrapes, so `predict_linear` can tell on-call days
ahead, and nothing is done on the request path. The scrape runs on the service's event loop, and a
volume whose server stopped answering (a hung NFS mount) blocks `statvfs` for as long as it is down,
so each read runs on a thread of its own and the scrape waits for it 0.1 s at most, once.
"""

from __future__ import annotations

import math
import os
import threading
import time
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
    return _statvfs(directory, "f_bavail")[0]


def cannot_open(path: Path, exc: BaseException) -> AuditError:
    """A database of the audit log (the log, the subject keys) that cannot be opened. A full volume reads
    as "disk I/O error" or "unable to open", so the message says how much room there is: a service that
    cannot start serves no gauge of it."""
    free = free_bytes(Path(path).parent)
    return AuditError(f"{path} cannot be opened: {exc}; {'unknown' if math.isnan(free) else int(free)} bytes free "
                      "on its volume")


def size_bytes(directory: Path) -> float:
    return _statvfs(directory, "f_blocks")[0]


def _statvfs(directory: Path, *blocks: str) -> tuple[float, ...]:
    try:
        stat = os.statvfs(directory)
    except OSError:
        return (math.nan,) * len(blocks)
    return tuple(float(getattr(stat, field) * stat.f_frsize) for field in blocks)


READ_WAIT_S = 0.1  # how long a scrape may wait for a volume's answer; a local disk gives it in microseconds
FRESH_S = 0.05  # a read this recent serves both gauges of one scrape, never the next scrape


class _Volume:
    """(free, size) bytes of the filesystem of a directory, read on a thread of its own, at most one at a time.

    A scrape waits for its read READ_WAIT_S at most, and only while the volume answers in time: a read still
    going reads as NaN (unknown) without waiting, and after a slow one the next scrapes take the last answer
    and do not wait until a read is quick again. So a hung mount costs one scrape READ_WAIT_S once, then
    nothing, and holds one thread."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._reading: threading.Thread | None = None
        self._started = -math.inf  # when the last read began: one that hung for long is no answer for now
        self._slow = False  # the last read took longer than READ_WAIT_S
        self._bytes = (math.nan, math.nan)

    def free(self) -> float:
        return self._read()[0]

    def size(self) -> float:
        return self._read()[1]

    def _read(self) -> tuple[float, float]:
        with self._lock:
            reading = self._reading
            if reading is not None and reading.is_alive():
                return math.nan, math.nan
            if time.monotonic() - self._started < FRESH_S:
                return self._bytes
            self._started = time.monotonic()
            reading = self._reading = threading.Thread(target=self._stat, name="mlobs-audit-statvfs", daemon=True)
            reading.start()
            if self._slow:
                return self._bytes
        reading.join(READ_WAIT_S)
        return (math.nan, math.nan) if reading.is_alive() else self._bytes

    def _stat(self) -> None:
        started = time.monotonic()
        read = _statvfs(self._directory, "f_bavail", "f_blocks")
        # A read that failed late (a hung mount given up) tells nothing of the next: that one is waited for.
        self._slow = time.monotonic() - started > READ_WAIT_S and not math.isnan(read[0])
        self._bytes = read


def export(registry, service: str, dirs: dict[str, Path]) -> None:
    """Free and total bytes of each store's filesystem, read at each scrape (one statvfs call a volume, off
    the scrape's thread: NaN while the volume does not answer)."""
    free, size = make(catalog.AUDIT_VOLUME_FREE, registry), make(catalog.AUDIT_VOLUME_SIZE, registry)
    for store, directory in dirs.items():
        volume = _Volume(directory)
        free.labels(service, store).set_function(volume.free)
        size.labels(service, store).set_function(volume.size)
