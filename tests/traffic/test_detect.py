from __future__ import annotations

import httpx
import pytest

from mlobs.traffic.detect import DetectionError, detect_service


def _serving(status: int, **kwargs) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, **kwargs))


def test_the_service_is_the_model_named_by_healthz():
    transport = _serving(200, json={"status": "ok", "model": "sentiment", "model_version": "abc"})
    assert detect_service("http://svc/", transport=transport) == "sentiment"


@pytest.mark.parametrize(
    "transport, message",
    [
        (_serving(503, json={"status": "starting"}), "answered HTTP 503"),
        (_serving(200, text="ok"), 'JSON with a "model" field'),
        (_serving(200, json={"status": "ok"}), 'JSON with a "model" field'),
        (_serving(200, json={"model": ""}), "invalid model name"),
    ],
)
def test_a_healthz_that_names_no_model_is_a_clear_error(transport, message):
    with pytest.raises(DetectionError, match=message):
        detect_service("http://svc", transport=transport)


def test_an_unreachable_target_says_it_cannot_be_reached(closed_port_url):
    with pytest.raises(DetectionError, match=f"cannot reach {closed_port_url}/healthz"):
        detect_service(closed_port_url, timeout_s=1.0)
