"""The drift dashboard shows the calibration each model version decides with."""

from __future__ import annotations

import json
import re

from mlobs.drift import catalog as d
from mlobs.stackgen.generate import render

BOARD = json.loads(render()["dashboards/generated/drift.json"])
PANELS = [p for p in BOARD["panels"] if p.get("type") != "row"]


def _panels_querying(metric: str) -> list[dict]:
    return [p for p in PANELS if any(re.search(rf"\b{metric}\{{", t.get("expr", "")) for t in p.get("targets", []))]


def _grouping(expr: str) -> set[str]:
    (labels,) = re.findall(r"by \(([^)]*)\)", expr)
    return {name.strip() for name in labels.split(",")}


def test_a_panel_shows_each_versions_calibration_target_as_a_percentage_by_method():
    (panel,) = _panels_querying(d.DRIFT_CALIBRATION_TARGET.name)
    assert panel["fieldConfig"]["defaults"]["unit"] == "percentunit"
    (target,) = panel["targets"]
    assert _grouping(target["expr"]) == {"model", "model_version", d.METHOD}
    assert _grouping(target["expr"]) <= set(d.DRIFT_CALIBRATION_TARGET.labels)
    assert "{{model_version}}" in target["legendFormat"] and "{{method}}" in target["legendFormat"]
    assert "nominal thresholds" in panel["description"]  # what a missing series means


def test_a_table_lists_the_threshold_in_use_per_detector_and_feature_at_the_latest_value():
    tables = [p for p in _panels_querying(d.DRIFT_THRESHOLD.name) if p["type"] == "table"]
    (panel,) = tables
    (target,) = panel["targets"]
    assert target["instant"] is True
    assert _grouping(target["expr"]) == {"model", "model_version", d.DETECTOR, d.FEATURE}
    assert _grouping(target["expr"]) <= set(d.DRIFT_THRESHOLD.labels)


def test_the_calibration_panels_sit_under_their_own_row_before_the_accuracy_row():
    rows = [p["title"] for p in BOARD["panels"] if p.get("type") == "row"]
    assert rows.index("Calibration in use") < rows.index("Beside it: estimated and online accuracy")
    titles = [p["title"] for p in BOARD["panels"]]
    start = titles.index("Calibration in use")
    assert {titles[start + 1], titles[start + 2]} == {"Calibrated false-positive target per version",
                                                      "Threshold in use per detector and feature"}


def test_the_estimated_class_mix_is_shown_beside_the_reference_mix_per_class():
    (panel,) = _panels_querying(d.ESTIMATED_CLASS_SHARE.name)
    assert panel is _panels_querying(d.REFERENCE_CLASS_SHARE.name)[0]
    assert panel["fieldConfig"]["defaults"]["unit"] == "percentunit"
    for target in panel["targets"]:
        assert _grouping(target["expr"]) == {"model", "model_version", d.CLASS}
        assert "{{class}}" in target["legendFormat"]


def test_a_panel_says_whether_the_class_mix_explains_the_input_drift():
    (panel,) = _panels_querying(d.PRIOR_SHIFT_EXPLAINS_INPUT.name)
    (target,) = panel["targets"]
    assert _grouping(target["expr"]) <= set(d.PRIOR_SHIFT_EXPLAINS_INPUT.labels)
