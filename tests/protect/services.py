"""A reference service as a real `mlobs serve` process, with two clients' keys and tight limits."""

from __future__ import annotations

import json

import httpx

from protect.apps import KEYS
from support.processes import ServiceProcess


def serve(name: str, artifacts_dir, log_path, env: dict | None = None, **protect_env) -> ServiceProcess:
    """`protect_env`: ProtectSettings fields (header_timeout_s=1 -> MLOBS_PROTECT__HEADER_TIMEOUT_S=1)."""
    env = {
        "MLOBS_ARTIFACTS_DIR": str(artifacts_dir),
        "MLOBS_ACCESS_LOG": "false",
        "MLOBS_PROTECT__AUTH": "required",
        "MLOBS_PROTECT__API_KEYS": json.dumps(KEYS),
        **(env or {}),
        **{f"MLOBS_PROTECT__{k.upper()}": str(v) for k, v in protect_env.items()},
    }
    return ServiceProcess(name, env, log_path)


def audited(tmp_path) -> dict:
    """Environment for a service with its own audit log under `tmp_path`."""
    return {"MLOBS_AUDIT__STORE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
            "MLOBS_AUDIT__KEYS_DIR": str(tmp_path / "keys")}


def metric(url: str, name: str, **labels) -> float | None:
    """The value of the first series `name` on the service's /metrics carrying all `labels`."""
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None
