"""The real validators: promtool and amtool from the OS packages (scripts/system-deps.sh installs them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from mlobs.stackgen import GenerationError


def _run(tool: str, *args: str, cwd: Path | None = None) -> str:
    binary = shutil.which(tool)
    if binary is None:
        raise GenerationError(f"{tool} is not installed: run scripts/system-deps.sh "
                              f"(Debian packages prometheus and prometheus-alertmanager)")
    result = subprocess.run([binary, *args], capture_output=True, text=True, cwd=cwd, timeout=120)
    if result.returncode != 0:
        raise GenerationError(f"`{tool} {' '.join(args)}` failed:\n{result.stdout}{result.stderr}")
    return result.stdout + result.stderr


def check_rules(*files: Path) -> str:
    return _run("promtool", "check", "rules", *map(str, files))


def check_config(path: Path) -> str:
    return _run("promtool", "check", "config", "--syntax-only", str(path))


def test_rules(*files: Path) -> str:
    return _run("promtool", "test", "rules", *map(str, files))


def check_alertmanager(*files: Path) -> str:
    return _run("amtool", "check-config", *map(str, files))
