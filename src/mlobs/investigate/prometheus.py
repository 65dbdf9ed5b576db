"""A small client for Prometheus's HTTP API with a deadline for the whole investigation."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import httpx
import numpy as np

from mlobs import http_deadline


class PrometheusError(RuntimeError):
    """Prometheus could not answer (unreachable, bad query, or past the deadline)."""


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    times: np.ndarray   # unix seconds
    values: np.ndarray  # floats; NaN where Prometheus had no value


class Prometheus:
    def __init__(self, url: str, deadline_s: float = 10.0, client: httpx.Client | None = None):
        self.url = url.rstrip("/")
        self.deadline = time.monotonic() + deadline_s
        self.client = client or http_deadline.client(timeout=5.0)
        self.queries: list[str] = []

    def _get(self, path: str, params: dict) -> dict:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise PrometheusError("the investigation ran past its deadline; narrow the time range")
        # Prometheus stops evaluating at its own timeout too, so a heavy query cannot run on after we leave.
        params = {**params, "timeout": f"{max(int(left * 1000), 100)}ms"}
        try:
            # The whole answer within what is left: a Prometheus that hangs or drips its answer a byte
            # at a time ends the investigation at its deadline, as a slow one does.
            with http_deadline.within(left):
                response = self.client.get(f"{self.url}{path}", params=params, timeout=left)
        except httpx.HTTPError as exc:
            raise PrometheusError(f"cannot reach Prometheus at {self.url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError(f"Prometheus answered {response.status_code} without JSON") from None
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus refused {params.get('query')!r}: {body.get('error', body)}")
        return body["data"]

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        """A range query; every series is aligned on the same grid of `step` seconds from `start`."""
        self.queries.append(query)
        data = self._get("/api/v1/query_range", {"query": query, "start": start, "end": end, "step": step})
        grid = np.arange(start, end + step / 2, step)
        out = []
        for item in data.get("result", []):
            values = np.full(grid.shape, np.nan)
            for t, v in item.get("values", []):
                i = int(round((float(t) - start) / step))
                if 0 <= i < len(grid):
                    values[i] = _float(v)
            out.append(Series(item.get("metric", {}), grid, values))
        return out

    def instant(self, query: str, at: float) -> list[tuple[dict[str, str], float]]:
        self.queries.append(query)
        data = self._get("/api/v1/query", {"query": query, "time": at})
        if data.get("resultType") == "scalar":
            return [({}, _float(data["result"][1]))]
        return [(item.get("metric", {}), _float(item["value"][1])) for item in data.get("result", [])]

    def label_values(self, name: str, start: float, end: float) -> list[str]:
        """Every value of the label `name` on series that have samples between `start` and `end`."""
        self.queries.append(f"label values of {name}")
        return list(self._get(f"/api/v1/label/{name}/values", {"start": start, "end": end}) or [])


def _float(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else math.nan
