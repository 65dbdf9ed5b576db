"""Traffic for the credit service: applications drawn from the documented generating process."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from mlobs.traffic.workload import Request, check_scenario, mixture_scenarios
from mlobs_services.credit import data

SCENARIOS = {"normal": None, "income-shift": "income", "purpose-shift": "purpose"}
# A share of the applicants with incomes 40% lower (one broker or region), the rest as normal.
MIXTURES = mixture_scenarios("income-shift")
SCENARIOS.update(dict.fromkeys(MIXTURES))
# A class-prior shift: applicants who will default make up this share of traffic (about 11% normally),
# each one a real applicant of the normal population.
CLASS_PRIOR = "class-prior"
SCENARIOS[CLASS_PRIOR] = None
PRIOR_DEFAULT_SHARE = 0.5
POOL_SIZE = 5000
SEED_OFFSET = 1000  # not the training applicants
BAD_SHARE = 0.02


@dataclass
class CreditWorkload:
    scenario: str
    applications: list[dict]

    def next_request(self, rng: random.Random) -> Request:
        row = rng.choice(self.applications)
        body = {"applicant_id": row["applicant_id"], "personal": row["personal"], "features": row["features"]}
        if rng.random() < BAD_SHARE:
            return rng.choice(_BAD)(body)
        return Request("POST", "/predict", json=body, kind="application")

    def feedback(self, response_json: Any, truth: Any) -> Request | None:
        return None  # defaults are known months later, not in a traffic run


def _negative_income(body: dict) -> Request:
    return Request("POST", "/predict", json={**body, "features": {**body["features"], "income": -1}},
                   kind="bad:negative-income")


def _unknown_category(body: dict) -> Request:
    return Request("POST", "/predict", json={**body, "features": {**body["features"], "loan_purpose": "yacht"}},
                   kind="bad:unknown-category")


def _missing_applicant(body: dict) -> Request:
    return Request("POST", "/predict", json={k: v for k, v in body.items() if k != "applicant_id"},
                   kind="bad:missing-applicant")


_BAD = (_negative_income, _unknown_category, _missing_applicant)


def workload(scenario: str = "normal", seed: int = 7) -> CreditWorkload:
    check_scenario("credit", scenario, SCENARIOS)
    rows = data.generate(n=POOL_SIZE, seed=seed + SEED_OFFSET, shift=SCENARIOS[scenario])
    if scenario in MIXTURES:
        shifted = round(POOL_SIZE * MIXTURES[scenario])
        rows = rows[: POOL_SIZE - shifted] + data.generate(n=shifted, seed=seed + SEED_OFFSET + 1, shift="income")
    if scenario == CLASS_PRIOR:
        rows = _with_default_share(rows, PRIOR_DEFAULT_SHARE)
    return CreditWorkload(scenario, rows)


def _with_default_share(rows: list[dict], share: float) -> list[dict]:
    """The same applicants, the defaulters repeated until they are `share` of the pool."""
    defaulted = [r for r in rows if r["defaulted"]]
    repaid = [r for r in rows if not r["defaulted"]]
    wanted = round(len(repaid) * share / (1 - share))
    return repaid + [defaulted[i % len(defaulted)] for i in range(wanted)]
