from __future__ import annotations

import pytest
from support.training import train_in_fresh_processes

from mlobs import artifacts
from mlobs_services.credit import data, model


def test_training_reports_discrimination_and_approval_rate(credit_model):
    info = credit_model
    assert info.metrics["held_out_auc"] > 0.7
    assert 0.6 < info.metrics["held_out_approval_rate"] < 0.97
    assert info.classes == ("approve", "decline")


def test_reason_codes_name_the_features_that_raised_the_risk(artifacts_dir, credit_model):
    credit = model.load(artifacts.version_dir(artifacts_dir, "credit", credit_model.version))
    base = data.generate(1, seed=5)[0]["features"]
    risky = {**base, "debt_to_income": 0.9, "num_delinquencies": 7}
    assert credit.default_probability([risky])[0] > credit.default_probability([base])[0]
    codes = credit.explain([risky])[0]
    assert codes[:2] == ["R02", "R01"] or codes[:2] == ["R01", "R02"]
    assert len(codes) <= 4


@pytest.mark.slow
def test_training_twice_in_fresh_processes_gives_the_same_version(tmp_path):
    versions = train_in_fresh_processes("credit", tmp_path)
    assert versions[0] == versions[1]
