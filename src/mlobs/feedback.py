"""What each recent request predicted, so ground truth arriving later can be scored (online accuracy).

Feedback counts once: each prediction (a request id and, in a batch, an index) is scored at most
once, only by the client that made the request or by a client holding the `labeller` role, and only
while the prediction is still held. A second submission answers 409, another client's 403, a
forgotten or unknown prediction 404; each is a rejected input. The memory is bounded in bytes and
forgets the oldest predictions first.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, StringConstraints

from mlobs import catalog
from mlobs.errors import InputRejected
from mlobs.protect.keys import ANONYMOUS, LABELLER

# What an OrderedDict costs per entry beyond its key and value objects (hash slot, linked-list node).
_DICT_ENTRY_BYTES = 120
MAX_CLASSES = 65_535  # predicted classes are held as 2-byte indices


class _Held:
    __slots__ = ("client", "predicted", "answered")

    def __init__(self, client: str, predicted: bytes, answered: bytearray):
        self.client = client
        self.predicted = predicted  # class indices, 2 bytes each
        self.answered = answered  # one flag per prediction of the request


class Claim:
    """The outcome of claiming a prediction for feedback: `predicted` is set when accepted."""

    __slots__ = ("status", "predicted")

    def __init__(self, status: str, predicted: str | None = None):
        self.status, self.predicted = status, predicted


ACCEPTED, UNKNOWN, FORBIDDEN, DUPLICATE = "accepted", "unknown", "forbidden", "duplicate"


class PredictionMemory:
    """Recent predictions, bounded by `max_bytes` (and `max_entries`); the oldest are forgotten first."""

    def __init__(self, max_bytes: int, classes, max_entries: int | None = None):
        self.classes = tuple(str(c) for c in classes)
        if not self.classes or len(self.classes) > MAX_CLASSES:
            raise ValueError(f"a model needs between 1 and {MAX_CLASSES} classes")
        self._index = {c: i for i, c in enumerate(self.classes)}
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._items: OrderedDict[str, _Held] = OrderedDict()
        self._clients: dict[str, str] = {}  # one string object per client id, shared by its entries
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def _cost(request_id: str, held: _Held) -> int:
        return (_DICT_ENTRY_BYTES + sys.getsizeof(request_id) + sys.getsizeof(held)
                + sys.getsizeof(held.predicted) + sys.getsizeof(held.answered))

    def remember(self, request_id: str, classes, client: str = ANONYMOUS) -> None:
        predicted = b"".join(self._index[str(c)].to_bytes(2, "little") for c in classes)
        with self._lock:
            client = self._clients.setdefault(client, client)
            old = self._items.pop(request_id, None)
            if old is not None:
                self._bytes -= self._cost(request_id, old)
            held = _Held(client, predicted, bytearray(len(predicted) // 2))
            self._items[request_id] = held
            self._bytes += self._cost(request_id, held)
            while self._items and (self._bytes > self.max_bytes
                                   or (self.max_entries is not None and len(self._items) > self.max_entries)):
                rid, dropped = self._items.popitem(last=False)
                self._bytes -= self._cost(rid, dropped)

    def claim(self, request_id: str, index: int, client: str, labeller: bool = False) -> Claim:
        """Mark one prediction as answered, atomically: at most one claim per prediction succeeds."""
        with self._lock:
            held = self._items.get(request_id)
            if held is None or not 0 <= index < len(held.answered):
                return Claim(UNKNOWN)
            if held.client != client and not labeller:
                return Claim(FORBIDDEN)
            if held.answered[index]:
                return Claim(DUPLICATE)
            held.answered[index] = 1
            code = int.from_bytes(held.predicted[2 * index: 2 * index + 2], "little")
        return Claim(ACCEPTED, self.classes[code])

    def predicted(self, request_id: str, index: int = 0) -> str | None:
        with self._lock:
            held = self._items.get(request_id)
            if held is None or not 0 <= index < len(held.answered):
                return None
            code = int.from_bytes(held.predicted[2 * index: 2 * index + 2], "little")
        return self.classes[code]

    @property
    def bytes(self) -> int:
        """Bytes the held predictions take, as accounted against max_bytes."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


def memory_for(settings, classes) -> PredictionMemory:
    """The prediction memory of a service, sized by MLOBS_FEEDBACK_MEMORY_BYTES (and _MEMORY entries)."""
    return PredictionMemory(settings.feedback_memory_bytes, classes, max_entries=settings.feedback_memory)


def client_of(request: Request) -> str:
    """The client the endpoint protection authenticated (mlobs.protect), "anonymous" without it."""
    return getattr(request.state, "client_id", None) or ANONYMOUS


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: Annotated[StrictStr, StringConstraints(min_length=1, max_length=64)]
    label: StrictStr
    index: Annotated[StrictInt, Field(ge=0)] = 0


class FeedbackResult(BaseModel):
    outcome: str


def feedback_router(memory: PredictionMemory, telemetry, classes, roles: dict | None = None) -> APIRouter:
    """POST /feedback: ground truth for a recent prediction, scored once into mlobs_feedback_total.

    `roles`: client id -> roles (MLOBS_PROTECT__ROLES); a `labeller` may score any client's prediction."""
    router = APIRouter()
    labellers = frozenset(c for c, r in (roles or {}).items() if LABELLER in r)

    @router.post("/feedback", response_model=FeedbackResult)
    async def feedback(body: FeedbackBody, request: Request):
        if body.label not in classes:
            raise InputRejected("unknown_label", f"label must be one of {list(classes)}")
        client = client_of(request)
        claim = memory.claim(body.request_id, body.index, client, labeller=client in labellers)
        if claim.status == UNKNOWN:
            raise InputRejected("unknown_request", "no recent prediction has that request id and index", 404)
        if claim.status == FORBIDDEN:
            raise InputRejected("feedback_forbidden", "only the client that made the prediction, or a labeller, "
                                "may give feedback on it", 403)
        if claim.status == DUPLICATE:
            raise InputRejected("duplicate_feedback", "feedback for this prediction was already received", 409)
        correct = claim.predicted == body.label
        telemetry.record_feedback(correct)
        return {"outcome": catalog.OUTCOME_CORRECT if correct else catalog.OUTCOME_INCORRECT}

    return router
