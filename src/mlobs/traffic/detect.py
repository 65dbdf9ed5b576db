"""Which service is behind a URL: its /healthz names the model."""

from __future__ import annotations

import httpx

from mlobs import http_deadline


class DetectionError(RuntimeError):
    pass


def detect_service(target: str, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None) -> str:
    url = target.rstrip("/") + "/healthz"
    try:  # the whole answer within timeout_s: a service that drips its answer fails detection, not hangs it
        with http_deadline.within(timeout_s), (httpx.Client(timeout=timeout_s, transport=transport) if transport
                                               else http_deadline.client(timeout=timeout_s)) as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        raise DetectionError(f"cannot reach {url}: {exc or type(exc).__name__}") from None
    if not response.is_success:
        raise DetectionError(f"{url} answered HTTP {response.status_code}")
    try:
        model = response.json()["model"]
    except (ValueError, KeyError, TypeError):
        raise DetectionError(f"{url} did not return JSON with a \"model\" field") from None
    if not isinstance(model, str) or not model:
        raise DetectionError(f"{url} returned an invalid model name: {model!r}")
    return model
