"""A synthetic applicant data set with a documented generating process.

Each applicant is drawn independently (numpy Generator, fixed seed):

- age: uniform integer in [21, 75]
- employment_type: salaried 0.62, self_employed 0.14, contract 0.16, unemployed 0.08
- employment_years: min(age - 18, Exponential(mean 7)), 0 when unemployed
- income (yearly): LogNormal(log 48,000, 0.45) x (0.35 unemployed, 0.9 contract, 1.1 self-employed)
- home_ownership: own / mortgage / rent, owning likelier with age
- loan_purpose: car 0.3, debt_consolidation 0.3, home_improvement 0.2, education 0.1, business 0.1
- loan_amount: LogNormal(log 12,000, 0.6), capped at 80,000
- debt_to_income (existing debt): Beta(2, 5) x 0.9
- credit_history_years: min(age - 18, Gamma(3, 3))
- num_open_accounts: Poisson(4); num_delinquencies: Poisson(0.25 + 1.2 x debt_to_income)

Default (the label) is Bernoulli(sigmoid(z)) with
  z = -4.0 + 3.0 debt_to_income + 0.55 delinquencies - 0.05 history_years
      - 0.6 log(income / 48,000) + 1.2 min(loan / income, 2)
      + 1.1 [unemployed] + 0.3 [contract] + 0.2 [self_employed] + 0.3 [rent]
      + 0.45 [business] + 0.2 [education] - 0.01 (age - 40)
which gives a default rate of about 11%. Personal fields (name, email, date of
birth, postcode) are drawn too: the model never sees them; the audit log keeps
them encrypted.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import numpy as np
import orjson

NUMERIC = ("age", "income", "employment_years", "loan_amount", "debt_to_income", "credit_history_years",
           "num_open_accounts", "num_delinquencies")
CATEGORICAL = {
    "employment_type": ("salaried", "self_employed", "contract", "unemployed"),
    "home_ownership": ("own", "mortgage", "rent"),
    "loan_purpose": ("car", "debt_consolidation", "home_improvement", "education", "business"),
}
PERSONAL = ("name", "email", "date_of_birth", "postcode")

_FIRST = ("Ana", "Ben", "Chloe", "Dev", "Emeka", "Fatima", "Gustav", "Hana", "Ivan", "Jia", "Kofi", "Lena",
          "Mateo", "Noor", "Oskar", "Priya", "Quinn", "Rosa", "Sami", "Tess", "Umar", "Vera", "Wen", "Yusuf")
_LAST = ("Almeida", "Brown", "Chen", "Dubois", "Eze", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Khan",
         "Larsen", "Moreau", "Nowak", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Weber")
# Training data is dated on a fixed day, so its hash (and the model version) does not change daily.
TRAINING_DAY = date(2026, 1, 1)


def generate(n: int = 20_000, seed: int = 11, shift: str | None = None, today: date | None = None) -> list[dict]:
    """Applications with their personal fields and `defaulted` (0/1). `shift` drifts the inputs:
    "income" (incomes 40% lower), "purpose" (business and education loans surge). Birth dates
    are counted back from `today` (default: the current date), so stated ages stay consistent."""
    today = today or date.today()
    rng = np.random.default_rng(seed)
    age = rng.integers(21, 76, n)
    emp = rng.choice(CATEGORICAL["employment_type"], n, p=(0.62, 0.14, 0.16, 0.08))
    emp_years = np.where(emp == "unemployed", 0.0, np.minimum(age - 18, rng.exponential(7.0, n)))
    income_factor = np.select([emp == "unemployed", emp == "contract", emp == "self_employed"], [0.35, 0.9, 1.1], 1.0)
    income = np.exp(rng.normal(np.log(48_000), 0.45, n)) * income_factor
    own_p = np.clip((age - 21) / 80, 0.05, 0.6)
    u = rng.random(n)
    home = np.where(u < own_p, "own", np.where(u < own_p + 0.4, "mortgage", "rent"))
    purpose_p = (0.3, 0.3, 0.2, 0.1, 0.1) if shift != "purpose" else (0.15, 0.15, 0.1, 0.3, 0.3)
    purpose = rng.choice(CATEGORICAL["loan_purpose"], n, p=purpose_p)
    loan = np.minimum(np.exp(rng.normal(np.log(12_000), 0.6, n)), 80_000)
    dti = rng.beta(2, 5, n) * 0.9
    history = np.minimum(age - 18, rng.gamma(3.0, 3.0, n))
    accounts = rng.poisson(4, n)
    delinquencies = rng.poisson(0.25 + 1.2 * dti)
    if shift == "income":
        income = income * 0.6
    elif shift not in (None, "purpose"):
        raise ValueError(f"unknown shift {shift!r}; choose income or purpose")

    z = (-4.0 + 3.0 * dti + 0.55 * delinquencies - 0.05 * history - 0.6 * np.log(income / 48_000)
         + 1.2 * np.minimum(loan / income, 2) + 1.1 * (emp == "unemployed") + 0.3 * (emp == "contract")
         + 0.2 * (emp == "self_employed") + 0.3 * (home == "rent") + 0.45 * (purpose == "business")
         + 0.2 * (purpose == "education") - 0.01 * (age - 40))
    defaulted = rng.random(n) < 1 / (1 + np.exp(-z))

    first, last = rng.integers(0, len(_FIRST), n), rng.integers(0, len(_LAST), n)
    days = rng.integers(0, 365, n)
    rows = []
    for i in range(n):
        name = f"{_FIRST[first[i]]} {_LAST[last[i]]}"
        rows.append({
            "applicant_id": f"A{seed:03d}{i:07d}",
            "personal": {
                "name": name,
                "email": f"{name.lower().replace(' ', '.')}{i}@example.org",
                "date_of_birth": (today - timedelta(days=int(age[i]) * 365 + int(days[i]))).isoformat(),
                "postcode": f"{10000 + (i * 7919) % 89999:05d}",
            },
            "features": {
                "age": int(age[i]),
                "income": round(float(income[i]), 2),
                "employment_years": round(float(emp_years[i]), 1),
                "loan_amount": round(float(loan[i]), 2),
                "debt_to_income": round(float(dti[i]), 4),
                "credit_history_years": round(float(history[i]), 1),
                "num_open_accounts": int(accounts[i]),
                "num_delinquencies": int(delinquencies[i]),
                "employment_type": str(emp[i]),
                "home_ownership": str(home[i]),
                "loan_purpose": str(purpose[i]),
            },
            "defaulted": int(defaulted[i]),
        })
    return rows


def data_hash(rows: list[dict]) -> str:
    return hashlib.sha256(orjson.dumps(rows, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]
