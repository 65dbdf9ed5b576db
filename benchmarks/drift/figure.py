"""The drift benchmark's figure: detection by shift family and window size, and by shifted share."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from docs_page import figure, save_figure  # noqa: E402

WINDOWS = (50, 200)


def mixture_curves(result: dict) -> dict[str, list[tuple[float, float]]]:
    """Family -> [(shifted share, rate of windows of 200 flagged by any detector)], the clean rate at 0."""
    curves: dict[str, list[tuple[float, float]]] = {}
    vision = result["vision"]
    clean = float(np.mean([r["fpr"][200][1]["any"] for r in vision["references"]]))
    for m in vision["mixtures"]:
        share, family = m["name"].split(" ", 1)
        point = (float(share.rstrip("%")) / 100, m["rates"]["any"])
        curves.setdefault(f"vision: {family}", [(0.0, clean)]).append(point)
    for model in ("sentiment", "credit"):
        rows = result[model]["rows"]
        none = next(r for r in rows if r["name"] == "none")["rates"][1]["any"]
        for row in rows:
            share, _, family = row["name"].partition(" ")
            if share.endswith("%") and share != "100%":
                curves.setdefault(f"{model}: {family}", [(0.0, none)]).append(
                    (float(share.rstrip("%")) / 100, row["rates"][1]["any"]))
    return curves


def draw(result: dict) -> str:
    """Draw docs/img/drift-detection.svg; returns the markdown that embeds it."""
    vision = result["vision"]
    clean = {w: {k: float(np.mean([r["fpr"][w][1][k] for r in vision["references"]])) for k in ("output", "any")}
             for w in WINDOWS}
    whole = [{"name": "none (clean)", "drop": 0.0, "rates": clean}, *vision["whole"]]
    fig, (bars, curves) = figure(12, 5.8, ncols=2, gridspec_kw={"width_ratios": [1.3, 1]})
    y = np.arange(len(whole))
    series = [(k, w) for k in ("output", "any") for w in WINDOWS]
    height = 0.8 / len(series)
    for i, (kind, w) in enumerate(series):
        label = f"{'output detectors' if kind == 'output' else 'any detector'}, window {w}"
        bars.barh(y + (i - (len(series) - 1) / 2) * height, [row["rates"][w][kind] * 100 for row in whole], height,
                  label=label)
    bars.set_yticks(y, [f"{row['name']} ({row['drop']:+.0f} pts)" for row in whole], fontsize=8)
    bars.invert_yaxis()
    bars.set_xlim(0, 100)
    bars.set_xlabel("windows flagged (%)")
    bars.set_title("Vision: every image shifted", fontsize=10)
    bars.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    for name, points in mixture_curves(result).items():
        curves.plot([s * 100 for s, _ in points], [r * 100 for _, r in points], marker="o", label=name)
    curves.axhline(90, color="grey", linestyle=":", linewidth=1)
    curves.set_xlabel("share of the window shifted (%)")
    curves.set_ylabel("windows of 200 flagged by any detector (%)")
    curves.set_ylim(0, 102)
    curves.set_title("A drifting share of traffic", fontsize=10)
    curves.legend(fontsize=7, loc="lower right")
    fig.suptitle("Drift detection with one fixed, calibrated reference per model version", fontsize=11)
    return save_figure(fig, "drift-detection", "python benchmarks/drift/detection.py --calibrated --write-docs")
