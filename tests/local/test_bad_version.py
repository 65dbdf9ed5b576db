"""The bad model version a scenario rolls out: a new version that decides differently, the original untouched."""

from __future__ import annotations

import joblib
import numpy as np
import pytest

from mlobs import artifacts
from mlobs.local import bad_version
from mlobs_services.credit import data


def test_the_mislabelled_credit_model_is_a_new_version_that_reverses_its_decisions(artifacts_dir, tmp_path,
                                                                                   credit_model):
    good = credit_model
    bad = bad_version.publish("credit", artifacts_dir, tmp_path)
    assert bad.version != good.version and "mislabelled" in bad.params
    assert artifacts.require(artifacts_dir, "credit")[1].version == good.version  # the original is still latest
    rows = [r["features"] for r in data.generate(n=200, seed=3)]
    p_good = joblib.load(artifacts.version_dir(artifacts_dir, "credit") / "model.joblib").default_probability(rows)
    p_bad = joblib.load(artifacts.version_dir(tmp_path, "credit") / "model.joblib").default_probability(rows)
    assert np.allclose(p_good + p_bad, 1.0)


def test_a_service_without_a_bad_version_is_refused_by_name(artifacts_dir, tmp_path):
    with pytest.raises(ValueError, match="no bad version for sentiment"):
        bad_version.publish("sentiment", artifacts_dir, tmp_path)
