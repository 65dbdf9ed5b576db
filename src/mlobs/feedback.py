"""What each recent request predicted, so ground truth arriving later can be scored (online accuracy)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, StringConstraints

from mlobs import catalog
from mlobs.errors import InputRejected


class PredictionMemory:
    """Bounded: the oldest predictions are forgotten first; feedback for them gets a 404."""

    def __init__(self, maxsize: int):
        self._maxsize = maxsize
        self._items: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, request_id: str, classes) -> None:
        with self._lock:
            self._items[request_id] = tuple(classes)
            if len(self._items) > self._maxsize:
                self._items.popitem(last=False)

    def predicted(self, request_id: str, index: int = 0) -> str | None:
        with self._lock:
            classes = self._items.get(request_id)
        if classes is None or not 0 <= index < len(classes):
            return None
        return classes[index]

    def __len__(self) -> int:
        return len(self._items)


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: Annotated[StrictStr, StringConstraints(min_length=1, max_length=64)]
    label: StrictStr
    index: Annotated[StrictInt, Field(ge=0)] = 0


class FeedbackResult(BaseModel):
    outcome: str


def feedback_router(memory: PredictionMemory, telemetry, classes) -> APIRouter:
    """POST /feedback: ground truth for a recent prediction, scored into mlobs_feedback_total."""
    router = APIRouter()

    @router.post("/feedback", response_model=FeedbackResult)
    async def feedback(body: FeedbackBody):
        if body.label not in classes:
            raise InputRejected("unknown_label", f"label must be one of {list(classes)}")
        predicted = memory.predicted(body.request_id, body.index)
        if predicted is None:
            raise InputRejected("unknown_request", "no recent prediction has that request id and index", 404)
        correct = predicted == body.label
        telemetry.record_feedback(correct)
        return {"outcome": catalog.OUTCOME_CORRECT if correct else catalog.OUTCOME_INCORRECT}

    return router
