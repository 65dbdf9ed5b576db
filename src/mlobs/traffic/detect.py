"""Which service is behind a URL: its /healthz names the model."""

from __future__ import annotations

import httpx


class DetectionError(RuntimeError):
    pass


def detect_service(target: str, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None) -> str:
    url = target.rstrip("/") + "/healthz"
    try:
        with httpx.Client(timeout=timeout_s, transport=transport) as client:
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
