"""Strict input, attacked from outside: duplicate keys, numbers as strings, implausible dates."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest

from mlobs_services.credit import data
from protect.apps import auth
from protect.services import audited, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def credit(tmp_path_factory, artifacts_dir, credit_model):
    workdir = tmp_path_factory.mktemp("strict-credit")
    with serve("credit", artifacts_dir, workdir / "service.log", env=audited(workdir)) as running:
        yield running


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory, artifacts_dir, sentiment_model):
    with serve("sentiment", artifacts_dir, tmp_path_factory.mktemp("strict-sentiment") / "service.log") as running:
        yield running


def application(**features) -> dict:
    row = data.generate(1, seed=5)[0]
    return {"applicant_id": row["applicant_id"], "personal": dict(row["personal"]),
            "features": {**row["features"], **features}}


def post_raw(service, body: bytes) -> httpx.Response:
    return httpx.post(f"{service.url}/predict", content=body, timeout=30,
                      headers={**auth(), "content-type": "application/json"})


def refusal(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_a_generated_application_is_answered(credit):
    response = httpx.post(f"{credit.url}/predict", json=application(), headers=auth(), timeout=30)
    assert response.status_code == 200, response.text


def test_a_duplicate_key_in_a_credit_application_is_refused(credit):
    body = json.dumps(application()).replace('"income": ', '"income": 1, "income": ', 1).encode()
    assert refusal(post_raw(credit, body)) == (422, "duplicate_key")


def test_a_duplicate_key_in_a_sentiment_request_is_refused(sentiment):
    body = b'{"text": "the food was awful", "text": "the food was great"}'
    assert refusal(post_raw(sentiment, body)) == (422, "duplicate_key")


@pytest.mark.parametrize("field, value", [("income", "40"), ("income", "5e4"), ("age", "40"),
                                          ("num_open_accounts", 5.0), ("num_delinquencies", True),
                                          ("loan_amount", False)])
def test_a_number_must_be_sent_as_a_json_number_of_its_type(credit, field, value):
    response = httpx.post(f"{credit.url}/predict", json=application(**{field: value}), headers=auth(), timeout=30)
    assert refusal(response) == (422, "wrong_type")


def test_a_birth_date_in_the_future_is_refused(credit):
    body = application()
    body["personal"]["date_of_birth"] = "2999-01-01"
    response = httpx.post(f"{credit.url}/predict", json=body, headers=auth(), timeout=30)
    assert refusal(response) == (422, "implausible_date")


def test_an_age_that_does_not_match_the_birth_date_is_refused(credit):
    body = application(age=30)
    body["personal"]["date_of_birth"] = date(date.today().year - 60, 1, 1).isoformat()
    response = httpx.post(f"{credit.url}/predict", json=body, headers=auth(), timeout=30)
    assert refusal(response) == (422, "inconsistent_age")


@pytest.mark.parametrize("value", [0, 946684800, "2000-1-1", "01/02/2000"])
def test_a_birth_date_must_be_an_iso_date_string(credit, value):
    body = application()
    body["personal"]["date_of_birth"] = value
    response = httpx.post(f"{credit.url}/predict", json=body, headers=auth(), timeout=30)
    assert refusal(response) == (422, "wrong_type")


def test_credit_takes_one_application_per_request_not_a_list_of_rows(credit):
    response = httpx.post(f"{credit.url}/predict", json=[application(), application()], headers=auth(), timeout=30)
    assert refusal(response) == (422, "wrong_type")
