"""A throwaway PostgreSQL cluster on a free loopback port, as the tests of every area start one."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from mlobs.local.ports import free_port

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


@contextlib.contextmanager
def postgres_cluster():
    """The URL of a fresh cluster, run as `postgres` when we are root; stopped and deleted at the end."""
    if PG_BIN is None or not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL server binaries absent (apt-get install -y postgresql)")
    root = Path(tempfile.mkdtemp(prefix="mlobs-pg-"))
    as_pg: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    subprocess.run(as_pg + [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                            "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c shared_buffers=64MB"
    subprocess.run(as_pg + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w",
                            "-o", options, "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_pg + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


_schemas = itertools.count()


def pg_schema_url(server_url: str) -> str:
    """A fresh schema per test, selected through the connection's search_path."""
    import psycopg

    name = f"t{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{server_url}?options=-csearch_path%3D{name}"
