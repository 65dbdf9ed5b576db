"""Inference CPU by client, with a bounded `client` label.

The client is the one protection identified for the request (`mlobs.protect.client.current_client`:
the authenticated client id, "anonymous" without authentication). A client gets its own label value
once it has made PROMOTE_AFTER charged calls, while fewer than `top_n` clients have one; every
other client's CPU goes to "_other". Labels are never taken back (a counter must not move between
series), so a process exports at most `top_n` + 1 series per model version, whatever clients send.
Clients not yet labelled are counted among at most CANDIDATES (the least active is forgotten first).
"""

from __future__ import annotations

OTHER = "_other"
PROMOTE_AFTER = 20
CANDIDATES = 64
MAX_CLIENT_CHARS = 64


class ClientCost:
    def __init__(self, family, model_labels: tuple[str, ...], top_n: int):
        from mlobs.protect.client import current_client  # here: mlobs.protect imports mlobs.metrics

        self._client = current_client
        self._family = family
        self._model_labels = model_labels
        self.top_n = top_n
        self._children: dict[str, object] = {}
        self._other = family.labels(*model_labels, OTHER)
        self._calls: dict[str, int] = {}

    def charge(self, seconds: float) -> None:
        """Add `seconds` of inference CPU to the client of the request being served."""
        client = self._client.get()
        child = self._children.get(client)
        if child is None:
            child = self._admit(client)
        child.inc(seconds)

    def _admit(self, client: str):
        client = client[:MAX_CLIENT_CHARS]
        labelled = self._children.get(client)  # a long id, labelled under its first MAX_CLIENT_CHARS
        if labelled is not None:
            return labelled
        if len(self._children) >= self.top_n:
            return self._other
        calls = self._calls.get(client, 0) + 1
        if calls < PROMOTE_AFTER:
            if client not in self._calls and len(self._calls) >= CANDIDATES:
                del self._calls[min(self._calls, key=self._calls.__getitem__)]
            self._calls[client] = calls
            return self._other
        self._calls.pop(client, None)
        child = self._children[client] = self._family.labels(*self._model_labels, client)
        return child

    @property
    def labelled(self) -> list[str]:
        return sorted(self._children)
