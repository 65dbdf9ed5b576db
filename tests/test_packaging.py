from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_distribution_lists_every_package_of_the_library_and_services():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = set()
    for prefix, base in (("mlobs", ROOT / "src" / "mlobs"), ("mlobs_services", ROOT / "services")):
        for init in base.rglob("__init__.py"):
            parts = init.parent.relative_to(base).parts
            on_disk.add(".".join((prefix, *parts)))
    assert set(config["packages"]) == on_disk


def test_the_library_reaches_services_only_through_the_registry():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "src" / "mlobs").rglob("*.py")
        if "mlobs_services" in path.read_text() and path.name != "registry.py"
    ]
    assert offenders == []
