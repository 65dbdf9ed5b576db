"""The drift benchmark's figure, drawn from a result shaped as `calibrated.run` returns it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks" / "drift"))
import figure  # noqa: E402


def rates(output: float, any_: float) -> dict:
    return {"output": output, "any": any_}


RESULT = {
    "vision": {
        "references": [{"fpr": {50: (None, rates(0.01, 0.03)), 200: (None, rates(0.02, 0.04))}}],
        "whole": [{"name": "rotation 25 deg", "drop": 33.5, "rates": {50: rates(0.9, 1.0), 200: rates(1.0, 1.0)}}],
        "mixtures": [{"name": "10% rotation 25 deg", "rates": {"any": 1.0}},
                     {"name": "20% rotation 25 deg", "rates": {"any": 1.0}}],
    },
    "sentiment": {"rows": [{"name": "none", "rates": (None, {"any": 0.02})},
                           {"name": "10% social posts", "rates": (None, {"any": 0.97})},
                           {"name": "100% social posts", "rates": (None, {"any": 1.0})}]},
    "credit": {"rows": [{"name": "none", "rates": (None, {"any": 0.05})},
                        {"name": "10% incomes 40% lower", "rates": (None, {"any": 0.25})}]},
}


def test_the_mixture_curves_start_at_the_clean_rate_and_leave_out_whole_shifts():
    curves = figure.mixture_curves(RESULT)
    assert curves["vision: rotation 25 deg"] == [(0.0, 0.04), (0.1, 1.0), (0.2, 1.0)]
    assert curves["sentiment: social posts"] == [(0.0, 0.02), (0.1, 0.97)]


def test_the_figure_is_drawn_in_the_docs_style_and_embedded_by_its_title(img):
    embed = figure.draw(RESULT)
    assert embed.endswith("(img/drift-detection.svg)")
    text = (img / "drift-detection.svg").read_text()
    assert "A drifting share of traffic" in text
    assert "--calibrated --write-docs" in text
