"""An application for credit, and the decision.

Strict types: a number must be a JSON number (no "40" for 40, no "5e4" for 50,000), an integer a
JSON integer, a date an ISO `YYYY-MM-DD` string (no timestamps). Dates must be plausible: a birth
date in the past, and the stated age within a year of the age it gives.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_only(value):
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise PydanticCustomError("date_type", "a date must be a YYYY-MM-DD string")
    return value


IsoDate = Annotated[date, Field(strict=False), BeforeValidator(_iso_date_only)]

Name = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Personal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    email: Annotated[StrictStr, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    date_of_birth: IsoDate
    postcode: Annotated[StrictStr, StringConstraints(min_length=2, max_length=12)]


class Features(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    age: Annotated[int, Field(ge=18, le=120)]
    income: Annotated[float, Field(ge=0, le=10_000_000)]
    employment_years: Annotated[float, Field(ge=0, le=80)]
    loan_amount: Annotated[float, Field(gt=0, le=1_000_000)]
    debt_to_income: Annotated[float, Field(ge=0, le=5)]
    credit_history_years: Annotated[float, Field(ge=0, le=100)]
    num_open_accounts: Annotated[int, Field(ge=0, le=200)]
    num_delinquencies: Annotated[int, Field(ge=0, le=200)]
    employment_type: Literal["salaried", "self_employed", "contract", "unemployed"]
    home_ownership: Literal["own", "mortgage", "rent"]
    loan_purpose: Literal["car", "debt_consolidation", "home_improvement", "education", "business"]


class Application(BaseModel):
    model_config = ConfigDict(extra="forbid")
    applicant_id: Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    personal: Personal
    features: Features

    @model_validator(mode="after")
    def plausible_dates(self):
        born, today = self.personal.date_of_birth, date.today()
        if born >= today:
            raise PydanticCustomError("implausible_date", "personal.date_of_birth must be in the past")
        years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if abs(years - self.features.age) > 1:
            raise PydanticCustomError("inconsistent_age",
                                      "features.age must be within a year of the age personal.date_of_birth gives")
        return self


class Reason(BaseModel):
    code: str
    description: str


class AuditReceipt(BaseModel):
    """Where the decision sits in the audit log: `mlobs audit prove DECISION_ID` proves it."""

    leaf_index: int
    record_hash: str


class CreditDecision(BaseModel):
    decision_id: str
    decision: Literal["approve", "decline"]
    score: int
    default_probability: float
    reasons: list[Reason]
    model: str
    model_version: str
    audit: AuditReceipt | None = None
