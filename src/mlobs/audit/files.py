"""Private files for the audit log: databases, keys and mirrors readable by their owner only.

SQLite creates a database with the process's umask (usually 0644) and gives its -wal and -shm
files the database's own mode, so the database file is made 0600 before SQLite first opens it.
Directories the log creates are 0700. An existing file we own is narrowed to 0600; an existing
directory is left as its owner set it (it may be shared on purpose), unless we created it.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlobs.audit.errors import AuditUnavailable

FILE_MODE = 0o600
DIR_MODE = 0o700
SQLITE_SIBLINGS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700 directories (exact, whatever the umask)."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it first: theirs is just as private
            continue
        os.chmod(directory, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Make `path` exist as a 0600 file (created empty if missing) in a private directory."""
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    os.close(fd)
    _narrow(path)
    return path


def open_private(path: Path):
    """`path` opened for writing from empty ("wb") as a 0600 file, for output streamed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # a file that was there before keeps its mode through O_CREAT
    except PermissionError:  # not ours: its owner decides
        pass
    return os.fdopen(fd, "wb")


def private_sqlite(path: Path) -> Path:
    """A SQLite database path whose file (and any journal beside it) is 0600, before SQLite opens it."""
    private_file(path)
    for suffix in SQLITE_SIBLINGS:
        sibling = Path(f"{path}{suffix}")
        if sibling.exists():
            _narrow(sibling)
    return Path(path)


def read_secret(path: Path) -> bytes:
    """A key file's bytes, the file narrowed to 0600 first: a key restored from a backup or copied
    with the umask's 0644 is readable by everyone until the next write, which for a key is never."""
    _narrow(Path(path))
    return Path(path).read_bytes()


def _narrow(path: Path) -> None:
    try:
        if path.stat().st_mode & 0o777 != FILE_MODE:
            os.chmod(path, FILE_MODE)
    except PermissionError:  # not ours: its owner decides
        pass


class OpenFile:
    """A SQLite database a writer has open, as the file it opened: SQLite goes on writing to a database (or
    its WAL) deleted or moved while open, so a commit there would be acknowledged and lost when the process
    ends. `check()` before each commit: two stat calls (about 3 µs of CPU)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._name, self._wal = str(self.path), f"{self.path}-wal"
        self._opened = self._identity()

    def _identity(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self._name)
        except OSError:
            return None
        return stat.st_dev, stat.st_ino

    def check(self) -> None:
        if self._identity() != self._opened or not os.path.exists(self._wal):
            raise AuditUnavailable(f"{self.path} is no longer the file this process opened (deleted, moved or "
                                   "replaced): nothing more is recorded until the service restarts")
