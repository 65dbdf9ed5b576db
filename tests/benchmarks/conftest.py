"""The benchmark scripts import their helpers as top-level modules, as `python benchmarks/X.py` runs them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
for folder in (BENCHMARKS, BENCHMARKS / "audit"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


@pytest.fixture
def img(tmp_path, monkeypatch):
    """Figures go to a scratch folder, not docs/img."""
    import docs_page

    monkeypatch.setattr(docs_page, "IMG", tmp_path / "img")
    return tmp_path / "img"
