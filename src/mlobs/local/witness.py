"""The audit witness in the native stack: `mlobs serve audit-witness` watching the credit service's log.

The credit service gets a bearer token made for this run (MLOBS_AUDIT__WITNESS_TOKEN); the witness
gets the same token, the credit service's address, a directory of its own beside the stack's logs,
and the log's public key copied there once, on the first start (pinned: a key later replaced beside
the log is not trusted by the witness).
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from mlobs.local.service import Service

NAME = "audit-witness"
WATCHED = "credit"  # the service whose log the witness cosigns
PUBLIC_KEY = "checkpoint_signing.pub.pem"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def log_env(token: str) -> dict[str, str]:
    """What the watched service needs: its witness endpoints on, behind the token."""
    return {"MLOBS_AUDIT__WITNESS_TOKEN": token}


def pin_log_key(log_keys_dir: Path, witness_dir: Path) -> Path:
    """The log's public key in the witness's directory, copied there on the first start only."""
    witness_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    pinned = witness_dir / "log_public_key.pem"
    if not pinned.exists():
        source = Path(log_keys_dir) / PUBLIC_KEY
        if not source.is_file():
            raise RuntimeError(f"the {WATCHED} service wrote no public key at {source}: is its audit log on?")
        shutil.copyfile(source, pinned)
    return pinned


def witness_service(log_url: str, log_keys_dir: Path, witness_dir: Path, port: int, token: str, log_path: Path,
                    interval_s: float = 5.0) -> Service:
    """`mlobs serve audit-witness` on loopback, watching the log served at `log_url` (not started)."""
    env = {"MLOBS_AUDIT_WITNESS__SOURCE_URL": log_url,
           "MLOBS_AUDIT_WITNESS__TOKEN": token,
           "MLOBS_AUDIT_WITNESS__LOG_PUBLIC_KEY": str(pin_log_key(log_keys_dir, witness_dir)),
           "MLOBS_AUDIT_WITNESS__DIR": str(witness_dir),
           "MLOBS_AUDIT_WITNESS__INTERVAL_S": f"{interval_s:g}",
           "OTEL_SERVICE_NAME": NAME}
    return Service(NAME, port, env, log_path)
