"""What the trained services' artifacts promise about their drift thresholds, read from the file they ship."""

from __future__ import annotations

import json

import pytest

from mlobs.drift.calibration import CALIBRATION_FILE, TARGET, rate_bound


@pytest.mark.parametrize("fixture", ["sentiment_model", "credit_model"])
def test_a_shipped_calibration_records_its_target_and_method_and_bounds_every_rule_at_the_target(
        fixture, request, artifacts_dir):
    info = request.getfixturevalue(fixture)
    data = json.loads((artifacts_dir / info.name / info.version / CALIBRATION_FILE).read_text())
    assert (data["target"], data["confidence"], data["method"]) == (TARGET, 0.95, "order-statistic")
    assert data["sampling"] == "nested-bootstrap" and data["detectors"]
    for name, detector in data["detectors"].items():
        assert detector["pool_rows"] >= 20_000, name
        assert [r["window"] for r in detector["rules"]] == [50, 200], name
        for rule in detector["rules"]:
            flagged = round(rule["calibrated_rate"] * rule["trials"])
            # The bound is recomputed from the rule's own counts, not trusted from the file.
            assert rule["rate_bound"] == pytest.approx(rate_bound(flagged, rule["trials"]))
            assert rule["rate_bound"] <= TARGET and rule["threshold"] <= rule["nominal"], (name, rule)
