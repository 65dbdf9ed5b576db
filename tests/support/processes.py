"""Run an mlobs service as a real process (uvicorn), as a user would."""

from __future__ import annotations

from pathlib import Path

from mlobs.local.ports import free_port
from mlobs.local.service import Service


def ServiceProcess(name: str, env: dict, log_path: Path, port: int | None = None) -> Service:  # noqa: N802
    """`with ServiceProcess(...) as s:` the service on a free loopback port, ready."""
    return Service(name, port or free_port(), env, log_path)
