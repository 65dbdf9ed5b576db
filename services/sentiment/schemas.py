"""Request and response bodies of the sentiment service (limits come from settings)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints


class Prediction(BaseModel):
    label: str
    probability: float


class SinglePrediction(Prediction):
    request_id: str
    model: str
    model_version: str


class BatchPrediction(BaseModel):
    request_id: str
    model: str
    model_version: str
    predictions: list[Prediction]


def predict_request(max_chars: int, max_batch: int) -> type[BaseModel]:
    Text = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_chars)]

    class PredictRequest(BaseModel):
        """One text (`text`) or a batch (`texts`), not both."""

        model_config = ConfigDict(extra="forbid")
        text: Text | None = None
        texts: Annotated[list[Text], Field(min_length=1, max_length=max_batch)] | None = None

    return PredictRequest
