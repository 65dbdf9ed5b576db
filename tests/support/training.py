"""Training a reference model in fresh interpreters, as `mlobs train` does on a user's machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def train_in_fresh_processes(service: str, root: Path, hash_seeds: tuple[str, ...] = ("1", "2")) -> list[str]:
    """The version each fresh `mlobs train SERVICE` publishes, one process per hash seed (its own artifacts
    directory under `root`), side by side: each is one process on one core."""
    runs = [subprocess.Popen([sys.executable, "-m", "mlobs.cli", "train", service, "--quiet"],
                             env={**os.environ, "PYTHONHASHSEED": seed, "MLOBS_ARTIFACTS_DIR": str(root / seed)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for seed in hash_seeds]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err.decode()
    return [(root / seed / service / "LATEST").read_text().strip() for seed in hash_seeds]
