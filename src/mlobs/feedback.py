"""What each recent request predicted, so ground truth arriving later can be scored (online accuracy)."""

from __future__ import annotations

import threading
from collections import OrderedDict


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
