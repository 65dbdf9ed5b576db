"""Work budgets per request, attacked from outside: batches of worst cases in one small request."""

from __future__ import annotations

import asyncio
import io

import httpx
import pytest
from PIL import Image

from protect.apps import auth
from protect.services import metric, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def blank_png(size: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (size, size)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def vision(tmp_path_factory, artifacts_dir, vision_model):
    with serve("vision", artifacts_dir, tmp_path_factory.mktemp("budget-vision") / "service.log") as running:
        yield running


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory, artifacts_dir, sentiment_model):
    with serve("sentiment", artifacts_dir, tmp_path_factory.mktemp("budget-sentiment") / "service.log") as running:
        yield running


def test_64_blank_megapixel_pngs_in_one_small_request_are_refused_before_decoding(vision):
    png = blank_png(1000)
    parts = [("files", (f"{i}.png", png, "image/png")) for i in range(64)]
    response = httpx.post(f"{vision.url}/predict", files=parts, headers=auth(), timeout=30)
    assert len(png) * 64 < 200_000  # the amplification: a small body, 64 megapixels
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "over_budget"


def test_a_batch_within_the_pixel_budget_is_answered(vision):
    png = blank_png(1000)
    parts = [("files", (f"{i}.png", png, "image/png")) for i in range(4)]
    response = httpx.post(f"{vision.url}/predict", files=parts, headers=auth(), timeout=30)
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 4


def test_a_text_batch_over_the_character_budget_is_refused(sentiment):
    texts = ["the food was great " * 20] * 64  # 380 characters each, 24,320 in all
    response = httpx.post(f"{sentiment.url}/predict", json={"texts": texts}, headers=auth(), timeout=30)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "over_budget"


def test_a_text_batch_within_the_budget_is_answered_from_the_worker_pool(sentiment):
    texts = ["the food was great " * 10] * 64
    response = httpx.post(f"{sentiment.url}/predict", json={"texts": texts}, headers=auth(), timeout=30)
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 64


def test_the_anonymous_client_holds_only_its_share_of_the_workers_and_is_told_busy_beyond_it(tmp_path, artifacts_dir,
                                                                                               sentiment_model):
    texts = ["the food was great and the staff were friendly " * 3] * 64
    env = {"MLOBS_PROTECT__AUTH": "off", "MLOBS_PROTECT__API_KEYS": "{}"}

    async def flood(url: str) -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answers = await asyncio.gather(*(client.post("/predict", json={"texts": texts}) for _ in range(20)))
            probe = await client.get("/healthz")
        return [a.status_code for a in answers] + [probe.status_code]

    with serve("sentiment", artifacts_dir, tmp_path / "service.log", env=env, max_waiting_per_client=0) as service:
        statuses = asyncio.run(flood(service.url))
        busy = metric(service.url, "mlobs_rate_limited_total", client="anonymous", limit="workers")
    *answers, probe = statuses
    assert set(answers) == {200, 429} and probe == 200
    assert busy == answers.count(429)

