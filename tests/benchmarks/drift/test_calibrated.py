"""The drift benchmark's rows for the shipped vision artifact, from a result shaped as `calibrated.shipped_vision`
returns it."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks" / "drift"))
import calibrated  # noqa: E402

from mlobs.drift.calibration import Rule  # noqa: E402


def shipped(flagged: dict[tuple[str, int], int], n: int = 400) -> dict:
    names = sorted({name for name, _ in flagged})
    fpr = {w: ({name: 0.0 for name in names}, {name: flagged[(name, w)] / n for name in names}, n) for w in (50, 200)}
    rule = {w: Rule(window=w, threshold=0.001, nominal=0.0125, trials=200, nominal_rate=0.2, calibrated_rate=0.005,
                    rate_bound=0.023) for w in (50, 200)}
    return {"info": SimpleNamespace(version="v1"), "fpr": fpr, "names": names, "rules": {"softmax_ks": rule},
            "pool_rows": {"softmax_ks": 397}, "reference_rows": {"softmax_ks": 400}, "window_pool": 1000,
            "output_names": ["softmax_ks"]}


def test_a_shipped_input_detector_flagging_12_of_400_clean_windows_misses_the_goal_and_11_meets_it():
    lines = calibrated.shipped_vision_rows(shipped({("image_exceedance", 50): 12, ("image_exceedance", 200): 11}))
    row = {(cells[1].strip(), cells[2].strip()): cells for cells in (line.split("|") for line in lines)
           if len(cells) > 3 and cells[1].strip() == "image_exceedance"}
    assert row[("image_exceedance", "50")][-2].strip() == "**not met**"
    assert row[("image_exceedance", "200")][-2].strip() == "met"
    assert "input detectors 1 of 2 detector and size cells met" in lines[-1]


def test_the_shipped_output_detectors_are_reported_as_not_measurable_with_their_calibration_windows_rate():
    lines = calibrated.shipped_vision_rows(shipped({("image_stats", 50): 0, ("image_stats", 200): 0}))
    output = [line for line in lines if line.startswith("| softmax_ks |")]
    assert len(output) == 2
    assert all("not measurable" in line and "95% bound 2.3%" in line for line in output)
    assert "397 held-out images outside it" in lines[0] and "1000 images the model was trained on" in lines[0]
