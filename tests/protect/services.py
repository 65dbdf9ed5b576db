"""A reference service as a real `mlobs serve` process, with two clients' keys and tight limits."""

from __future__ import annotations

import json

from protect.apps import KEYS
from support.processes import ServiceProcess


def serve(name: str, artifacts_dir, log_path, **protect_env) -> ServiceProcess:
    env = {
        "MLOBS_ARTIFACTS_DIR": str(artifacts_dir),
        "MLOBS_PROTECT__AUTH": "required",
        "MLOBS_PROTECT__API_KEYS": json.dumps(KEYS),
        **{f"MLOBS_PROTECT__{k.upper()}": str(v) for k, v in protect_env.items()},
    }
    return ServiceProcess(name, env, log_path)
