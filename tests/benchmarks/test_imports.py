"""Every benchmark script's imports resolve: a helper renamed or a module moved fails here, not
minutes into a run (many imports sit inside the branch that writes the docs)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"


def imported(script: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def resolves(name: str, script: Path) -> bool:
    top = name.split(".")[0]
    # A script imports its neighbours, benchmarks/ and tests/ (each puts them on its path).
    if any((folder / f"{top}.py").exists() or (folder / top).is_dir()
           for folder in (script.parent, BENCHMARKS, ROOT / "tests")):
        return True
    # Project modules by their full name (a module moved is caught); others by their package.
    return importlib.util.find_spec(name if top in ("mlobs", "mlobs_services") else top) is not None


def test_every_module_a_benchmark_script_imports_exists():
    missing = [f"{script.relative_to(ROOT)}: {name}" for script in sorted(BENCHMARKS.rglob("*.py"))
               for name in sorted(imported(script)) if not resolves(name, script)]
    assert missing == []


def test_a_renamed_helper_is_caught(tmp_path):
    script = tmp_path / "bench.py"
    script.write_text("def main():\n    from readme import write_section\n    import mlobs.audit.nowhere\n")
    assert [name for name in sorted(imported(script)) if not resolves(name, script)] == [
        "mlobs.audit.nowhere", "readme"]
