"""What each recent request predicted, so ground truth arriving later can be scored (online accuracy).

Feedback counts once: each prediction (a request id and, in a batch, an index) is scored at most
once, only by the client that made the request or by a client holding the `labeller` role, and only
while the prediction is still held. A second submission answers 409, another client's 403, a
forgotten or unknown prediction 404; each is a rejected input. The memory is bounded in bytes and
forgets the oldest predictions first; it is this process's alone. With MLOBS_FEEDBACK__STORE_URL the
predictions go to a database every replica shares instead (mlobs.feedback_store), with the same promises.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, StringConstraints

from mlobs import catalog
from mlobs.errors import InputRejected, Unavailable
from mlobs.feedback_store import (ACCEPTED, DUPLICATE, FORBIDDEN, UNKNOWN, Claim, SqlPredictionStore,
                                  StoreUnavailable)
from mlobs.lifespan import around_lifespan
from mlobs.metrics import make
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

    async def aclaim(self, request_id: str, index: int, client: str, labeller: bool = False) -> Claim:
        return self.claim(request_id, index, client, labeller)

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


def memory_for(settings, classes, model=None, telemetry=None, app=None) -> PredictionMemory | SqlPredictionStore:
    """Where a service holds its predictions for feedback: in memory, sized by MLOBS_FEEDBACK_MEMORY_BYTES
    (and _MEMORY entries), or, with MLOBS_FEEDBACK__STORE_URL, in a database every replica shares.

    `model` (its ModelInfo) names the predictions in a shared store; `telemetry` counts the predictions
    the store drops in mlobs_telemetry_dropped_total{signal="feedback"}; with `app`, the store is closed
    at shutdown."""
    store = settings.feedback
    if not store.store_url:
        return PredictionMemory(settings.feedback_memory_bytes, classes, max_entries=settings.feedback_memory)
    if model is None:
        raise ValueError("a shared feedback store needs the model (its name and version) of the predictions")
    metrics = getattr(telemetry, "metrics", None)
    dropped = metrics.dropped(catalog.SIGNAL_FEEDBACK) if metrics is not None else None
    memory = SqlPredictionStore(
        store.store_url, model.name, model.version, classes, max_rows=store.max_rows,
        max_age_days=store.max_age_days, queue_size=store.queue_size, batch=store.batch, timeout_s=store.timeout_s,
        on_dropped=dropped.inc if dropped is not None else None)
    if app is not None:
        around_lifespan(app, shutdown=memory.close)
    return memory


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


def feedback_router(memory: PredictionMemory | SqlPredictionStore, telemetry, classes,
                    roles: dict | None = None) -> APIRouter:
    """POST /feedback: ground truth for a recent prediction, scored once into mlobs_feedback_total.

    `roles`: client id -> roles (MLOBS_PROTECT__ROLES); a `labeller` may score any client's prediction."""
    router = APIRouter()
    labellers = frozenset(c for c, r in (roles or {}).items() if LABELLER in r)

    @router.post("/feedback", response_model=FeedbackResult)
    async def feedback(body: FeedbackBody, request: Request):
        if body.label not in classes:
            raise InputRejected("unknown_label", f"label must be one of {list(classes)}")
        client = client_of(request)
        try:
            claim = await memory.aclaim(body.request_id, body.index, client, labeller=client in labellers)
        except StoreUnavailable as exc:
            raise Unavailable("feedback_store_unavailable", f"{exc}; retry later") from None
        if claim.status == UNKNOWN:
            raise InputRejected("unknown_request", "no recent prediction has that request id and index", 404)
        if claim.status == FORBIDDEN:
            raise InputRejected("feedback_forbidden", "only the client that made the prediction, or a labeller, "
                                "may give feedback on it", 403)
        if claim.status == DUPLICATE:
            raise InputRejected("duplicate_feedback", "feedback for this prediction was already received", 409)
        correct = claim.predicted == body.label
        _count(telemetry, correct, claim.version)
        return {"outcome": catalog.OUTCOME_CORRECT if correct else catalog.OUTCOME_INCORRECT}

    return router


def _count(telemetry, correct: bool, version: str | None) -> None:
    """Online accuracy of the model version that made the prediction: after a deploy, a shared store
    still holds the previous version's predictions, and their labels are its accuracy, not this one's."""
    metrics = getattr(telemetry, "metrics", None)
    if version is None or metrics is None or version == metrics.model_labels[2]:
        telemetry.record_feedback(correct)
        return
    outcome = catalog.OUTCOME_CORRECT if correct else catalog.OUTCOME_INCORRECT
    service, model, _ = metrics.model_labels
    make(catalog.FEEDBACK, metrics.registry).labels(service, model, version, outcome).inc()
