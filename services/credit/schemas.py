"""An application for credit, and the decision."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints

Name = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Personal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    email: Annotated[StrictStr, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    date_of_birth: date
    postcode: Annotated[StrictStr, StringConstraints(min_length=2, max_length=12)]


class Features(BaseModel):
    model_config = ConfigDict(extra="forbid")
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
