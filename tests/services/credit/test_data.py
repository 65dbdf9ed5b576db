from __future__ import annotations

import numpy as np

from mlobs_services.credit import data


def test_the_default_rate_is_realistic():
    rate = np.mean([r["defaulted"] for r in data.generate(20_000)])
    assert 0.08 <= rate <= 0.14


def test_generation_is_deterministic_and_seeded():
    assert data.generate(200) == data.generate(200)
    assert data.data_hash(data.generate(200)) != data.data_hash(data.generate(200, seed=12))


def test_every_application_has_personal_fields_apart_from_features():
    row = data.generate(1)[0]
    assert set(row["personal"]) == set(data.PERSONAL)
    assert not set(row["personal"]) & set(row["features"])
    assert set(row["features"]) == set(data.NUMERIC) | set(data.CATEGORICAL)


def test_shifts_move_the_inputs_they_name():
    normal, poorer = data.generate(3000), data.generate(3000, shift="income")
    assert np.median([r["features"]["income"] for r in poorer]) < 0.7 * np.median(
        [r["features"]["income"] for r in normal])
    business = np.mean([r["features"]["loan_purpose"] == "business" for r in data.generate(3000, shift="purpose")])
    assert business > 0.2
