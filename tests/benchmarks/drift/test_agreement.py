"""The second-model agreement table, from results shaped as `agreement.vision` returns them, and its
block in a copy of the drift page."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks" / "drift"))
import agreement  # noqa: E402
import calibrated  # noqa: E402

RESULT = {"vision": (["knn"], [{"shift": "rotation 25 deg", "true": 0.628, "cbpe": 0.836,
                                 "agreement": {"knn": 0.663}}])}


def test_each_estimate_is_shown_with_its_signed_error_against_the_true_accuracy():
    row = next(line for line in agreement.render(RESULT).splitlines() if line.startswith("| rotation"))
    assert row == "| rotation 25 deg | 62.8% | 83.6% (+20.8) | 66.3% (+3.5) |"


def test_the_table_replaces_only_its_own_block_of_the_page(tmp_path):
    page = tmp_path / "drift.md"
    page.write_text(f"before\n{calibrated.BEGIN}\nold calibrated\n{calibrated.END}\nmiddle\n"
                    f"{agreement.BEGIN}\nold agreement\n{calibrated.END}\nafter\n")
    calibrated.write_block(agreement.BEGIN, "new table", page)
    text = page.read_text()
    assert "old calibrated" in text and "old agreement" not in text
    assert f"{agreement.BEGIN}\nnew table\n{calibrated.END}\nafter" in text


def test_a_page_without_the_block_is_refused_rather_than_appended_to(tmp_path):
    page = tmp_path / "drift.md"
    page.write_text("no blocks here\n")
    with pytest.raises(ValueError, match="no block"):
        calibrated.write_block(agreement.BEGIN, "table", page)
