"""Whether this process is one of several uvicorn workers sharing a port: each has its own metrics,
and a scrape of /metrics reaches one of them (docs/instrument.md, "Several worker processes")."""

from __future__ import annotations

import multiprocessing
import os


def uvicorn_workers(environ=os.environ) -> int:
    """How many workers the uvicorn that started this process runs (1 when not a uvicorn worker)."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return 1
    try:
        with open(f"/proc/{parent.pid}/cmdline", "rb") as f:
            args = [a.decode(errors="replace") for a in f.read().split(b"\0")]
    except OSError:
        return 1
    if not any(a.endswith("uvicorn") or "uvicorn" in a.split("/")[-1] for a in args[:3]):
        return 1
    count = environ.get("WEB_CONCURRENCY", "1")
    for i, arg in enumerate(args):
        if arg == "--workers" and i + 1 < len(args):
            count = args[i + 1]
        elif arg.startswith("--workers="):
            count = arg.partition("=")[2]
    return int(count) if count.isdigit() else 1
