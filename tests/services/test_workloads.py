"""Every model service's traffic: each scenario yields requests its service accepts."""

from __future__ import annotations

import random

import pytest

from mlobs import registry
from mlobs.traffic.workload import UnknownScenario, Workload
from mlobs_services.credit import workload as credit
from mlobs_services.sentiment import workload as sentiment
from mlobs_services.vision import workload as vision

SCENARIOS = {"sentiment": sentiment.SCENARIOS, "credit": credit.SCENARIOS, "vision": vision.SHIFTS}


@pytest.mark.parametrize("service, scenario", [(s, c) for s, names in SCENARIOS.items() for c in names])
def test_each_scenario_yields_requests_to_predict(service, scenario):
    load = registry.load(service).workload(scenario, seed=3)
    assert isinstance(load, Workload)
    requests = [load.next_request(random.Random(i)) for i in range(40)]
    assert all(r.path == "/predict" and r.method == "POST" for r in requests)
    assert sum(not r.kind.startswith("bad:") for r in requests) >= 30


@pytest.mark.parametrize("service", sorted(SCENARIOS))
def test_an_unknown_scenario_names_the_valid_ones(service):
    with pytest.raises(UnknownScenario, match="normal"):
        registry.load(service).workload("tornado", seed=1)


@pytest.mark.parametrize("percent", [5, 10, 20])
def test_a_vision_mixture_rotates_that_share_of_the_images(percent):
    import numpy as np

    from mlobs_services.vision import model

    load = vision.workload(f"rotation-{percent}%", seed=3)
    image = model.digit_image(load.pixels[load.order[0]])
    changed = [vision.SHIFTS[load.scenario](image, load.rng) is not image for _ in range(2000)]
    assert abs(np.mean(changed) - percent / 100) < 0.025


@pytest.mark.parametrize("percent", [5, 10, 20])
def test_a_sentiment_mixture_mixes_that_share_of_social_posts_into_the_reviews(percent):
    from mlobs_services.sentiment import corpus

    load = sentiment.workload(f"domain-shift-{percent}%", seed=3)
    shifted = round(sentiment.POOL_SIZE * percent / 100)
    social = {t for t, _ in corpus.generate(n=shifted, seed=3 + sentiment.SEED_OFFSET, domain="social")}
    reviews = {t for t, _ in corpus.generate(n=sentiment.POOL_SIZE, seed=3 + sentiment.SEED_OFFSET)}
    share = sum(t in social and t not in reviews for t, _ in load.examples) / len(load.examples)
    assert len(load.examples) == sentiment.POOL_SIZE and abs(share - percent / 100) < 0.01


@pytest.mark.parametrize("percent", [5, 10, 20])
def test_a_credit_mixture_lowers_incomes_for_that_share_of_applicants(percent):
    load = credit.workload(f"income-shift-{percent}%", seed=3)
    normal = {r["applicant_id"] for r in credit.workload("normal", seed=3).applications}
    share = sum(r["applicant_id"] not in normal for r in load.applications) / len(load.applications)
    assert share == pytest.approx(percent / 100, abs=0.005)
