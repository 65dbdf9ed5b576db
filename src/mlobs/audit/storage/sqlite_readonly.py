"""How every reader that must change nothing opens a SQLite log (verify, its workers, the format check).

The URI's path is percent-encoded: `?`, `#` and `%` are ordinary characters in a directory's name, and
unencoded they would end the path, so a reader would open another file, or create one. On a read-only
filesystem (an archived copy, a snapshot, WORM media) a WAL database's reader cannot make the
shared-memory file it needs: with no WAL beside the file, nothing can change it there, and SQLite
is told so (`immutable=1`). A WAL that holds commits is read as usual (it needs its `-shm` beside it).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote


def readonly_uri(path: str | Path) -> str:
    """A `file:` URI that opens `path` for reading only (sqlite3.connect(..., uri=True), or ATTACH on a
    connection opened so)."""
    params = "mode=ro"
    wal = Path(f"{path}-wal")
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY and not (wal.exists() and wal.stat().st_size > 0):
            params += "&immutable=1"
    except OSError:
        pass  # missing or unreadable: the open says so
    return f"file:{quote(str(path), safe='/')}?{params}"


def connect_readonly(path: str | Path, **kwargs) -> sqlite3.Connection:
    return sqlite3.connect(readonly_uri(path), uri=True, **kwargs)
