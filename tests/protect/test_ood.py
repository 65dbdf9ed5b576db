from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlobs.drift.reference import load_reference
from mlobs.protect.ood import OODScorer, Ranks, TabularSignal, scorer_from_reference
from protect.apps import auth, build


def ood(sinks, service, client="alice"):
    samples = [s for m in sinks.registry.collect() if m.name == "mlobs_ood_inputs" for s in m.samples
               if s.labels.get("client") == client and s.name.endswith("_total")]
    return sum(s.value for s in samples)


def test_a_rank_is_the_share_of_reference_scores_below():
    ranks = Ranks(np.arange(100))
    assert ranks.rank(-1) == 0 and ranks.rank(50) == 0.5 and ranks.rank(1000) == 1.0 and ranks.rank(float("nan")) == 1.0


def test_an_unseen_category_or_a_missing_feature_is_out_of_distribution():
    signal = TabularSignal(["x"], np.arange(100.0)[:, None], ["kind"], np.array([["a"], ["b"]] * 50))
    scorer = OODScorer([signal])
    assert scorer.score({"features": {"x": 50.0, "kind": "a"}}) < 0.9
    assert scorer.score({"features": {"x": 50.0, "kind": "zzz"}}) == 1.0
    assert scorer.score({"features": {"kind": "a"}}) == 1.0
    assert scorer.score({"probs": [0.5, 0.5]}) is None


def test_reference_texts_score_mostly_in_distribution_and_gibberish_out(artifacts_dir, sentiment_model):
    reference = load_reference(artifacts_dir / "sentiment" / sentiment_model.version)
    scorer = scorer_from_reference(reference)
    scores = np.array([scorer.score({"text": t}) for t in reference["texts"][:300]])
    assert (scores >= 0.99).mean() <= 0.02
    assert scorer.score({"text": "qzx vlorp snargle 0x7f3a zzkq wubwub"}) == 1.0


def test_sentiment_counts_gibberish_as_ood_for_the_client_that_sent_it(settings, sinks, sentiment_model):
    app, _ = build("sentiment", settings, sinks)
    with TestClient(app) as client:
        client.post("/predict", json={"text": "a wonderful film, I loved it"}, headers=auth())
        client.post("/predict", json={"texts": ["qzx vlorp snargle wubwub", "xxqj pflorb zzzt"]}, headers=auth())
    assert ood(sinks, "sentiment") == 2


def test_vision_counts_a_noise_image_as_ood_and_a_digit_not(settings, sinks, vision_model):
    from PIL import Image

    from mlobs_services.vision import model
    from mlobs_services.vision.workload import png

    app, _ = build("vision", settings, sinks)
    pixels, _ = model.load_digits_data()
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8), "L")
    with TestClient(app) as client:
        ok = client.post("/predict", content=png(model.digit_image(pixels[1500])),
                         headers={**auth(), "content-type": "image/png"})
        assert ok.status_code == 200
        assert ood(sinks, "vision") == 0
        client.post("/predict", content=png(noise), headers={**auth(), "content-type": "image/png"})
    assert ood(sinks, "vision") == 1


@pytest.mark.parametrize("features, expected", [({}, 0), ({"income": 9_900_000, "loan_amount": 999_999}, 1)])
def test_credit_counts_an_extreme_application_as_ood(settings, sinks, credit_model, features, expected):
    from mlobs_services.credit import data

    row = data.generate(5, seed=7)[1]
    body = {"applicant_id": row["applicant_id"], "personal": row["personal"],
            "features": {**row["features"], **features}}
    app, _ = build("credit", settings, sinks)
    with TestClient(app) as client:
        assert client.post("/predict", json=body, headers=auth()).status_code == 200
    assert ood(sinks, "credit") == expected
