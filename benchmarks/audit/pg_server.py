"""Start a throwaway PostgreSQL server for the audit benchmarks and print its URL.

Usage: python benchmarks/audit/pg_server.py start DIR   -> prints postgresql://... ; stop with: stop DIR
Runs initdb/pg_ctl as the `postgres` user when run as root (postgres refuses root). The benchmarks
take `--postgres URL`, or `--postgres local` for a server of their own for the run (`postgres()`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


def _as_pg() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def start(root: Path) -> str:
    if PG_BIN is None:
        sys.exit("PostgreSQL server binaries absent (apt-get install -y postgresql)")
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    subprocess.run(_as_pg() + [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c shared_buffers=256MB"
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o", options, "start"]
    subprocess.run(_as_pg() + pg_ctl,
                   check=True, capture_output=True)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def stop(root: Path) -> None:
    subprocess.run(_as_pg() + [str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-m", "fast", "stop"],
                   capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def postgres(url: str | None):
    """The server a benchmark's `--postgres` names: None, a URL as given, or for "local" a throwaway
    server started for the run and stopped after it."""
    if url != "local":
        yield url
        return
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="mlobs-bench-pg-"))
    try:
        yield start(root)
    finally:
        stop(root)


def fresh_schema(url: str, name: str) -> str:
    """A URL whose connections work in schema `name`, emptied first."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{url}?options=-csearch_path%3D{name}"


if __name__ == "__main__":
    command, where = sys.argv[1], Path(sys.argv[2])
    print(start(where) if command == "start" else stop(where) or "stopped")
