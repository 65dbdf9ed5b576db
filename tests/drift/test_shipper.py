from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry

from mlobs.drift.settings import DriftSettings
from mlobs.drift.shipper import DriftShipper
from support.hostile_exporter import DRIP_BODY, DRIP_HEAD, HostileExporter

DROPPED = "mlobs_drift_samples_dropped_total"
SHIPPED = "mlobs_drift_samples_shipped_total"
LABELS = {"service": "vision", "model": "vision", "model_version": "v1"}


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, {**LABELS, **labels}) or 0.0


def shipper(url: str, registry: CollectorRegistry, **kwargs) -> DriftShipper:
    options = {"batch_size": 10, "queue_size": 100, "timeout": 0.2, "flush_interval": 0.05, "registry": registry}
    return DriftShipper(url, "vision", "v1", **{**options, **kwargs})


def test_offer_never_raises_and_counts_drops_when_the_exporter_is_down():
    registry = CollectorRegistry()
    s = shipper(closed_port_url(), registry)
    for i in range(50):
        s.offer({"probs": [0.1, 0.9], "i": i})
    s.close(timeout=5.0)
    dropped = count(registry, DROPPED, reason="export_failed") + count(registry, DROPPED, reason="closed")
    assert dropped == 50
    assert count(registry, DROPPED, reason="export_failed") > 0
    assert count(registry, SHIPPED) == 0


def test_offer_drops_and_counts_when_the_queue_is_full():
    registry = CollectorRegistry()
    release = threading.Event()

    def stuck(request: httpx.Request) -> httpx.Response:
        release.wait(5.0)
        return httpx.Response(202)

    s = shipper("http://exporter", registry, queue_size=20, transport=httpx.MockTransport(stuck))
    for i in range(200):
        s.offer({"i": i})  # returns at once although the worker is stuck on a request
    full = count(registry, DROPPED, reason="queue_full")
    release.set()
    s.close(timeout=5.0)
    assert full >= 200 - 20 - 10  # at most one batch in flight plus a full queue got through
    accounted = full + count(registry, SHIPPED) + sum(
        count(registry, DROPPED, reason=r) for r in ("export_failed", "closed")
    )
    assert accounted == 200


def test_samples_arrive_in_batches_with_model_and_version():
    registry = CollectorRegistry()
    bodies: list[dict] = []

    def record(request: httpx.Request) -> httpx.Response:
        bodies.append(orjson.loads(request.content))
        return httpx.Response(202)

    s = shipper("http://exporter/", registry, transport=httpx.MockTransport(record))
    for _ in range(25):
        s.offer({"probs": np.array([0.25, 0.75], dtype=np.float32), "image": np.zeros((1, 2, 2), dtype=np.float16)})
    s.close(timeout=5.0)
    assert sum(len(b["samples"]) for b in bodies) == 25
    assert all(len(b["samples"]) <= 10 for b in bodies)
    assert {(b["service"], b["model"], b["model_version"]) for b in bodies} == {("vision", "vision", "v1")}
    assert bodies[0]["samples"][0]["probs"] == [0.25, 0.75]
    assert bodies[0]["samples"][0]["image"] == [[[0.0, 0.0], [0.0, 0.0]]]
    assert count(registry, SHIPPED) == 25


def test_a_sample_that_cannot_be_serialised_is_dropped_not_raised():
    registry = CollectorRegistry()
    s = shipper("http://exporter", registry, transport=httpx.MockTransport(lambda r: httpx.Response(202)))
    s.offer({"bad": object()})
    s.close(timeout=5.0)
    assert count(registry, DROPPED, reason="export_failed") == 1


def test_a_sample_rate_of_zero_ships_nothing():
    registry = CollectorRegistry()
    calls: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(202))
    s = shipper("http://exporter", registry, sample_rate=0.0, transport=transport)
    for _ in range(20):
        s.offer({"i": 1})
    s.close(timeout=5.0)
    assert calls == [] and count(registry, SHIPPED) == 0


def test_offers_after_close_are_counted_as_dropped():
    registry = CollectorRegistry()
    s = shipper(closed_port_url(), registry)
    s.close(timeout=1.0)
    s.offer({"i": 1})
    assert count(registry, DROPPED, reason="closed") == 1


def test_two_shippers_can_share_one_registry():
    registry = CollectorRegistry()
    a = shipper(closed_port_url(), registry)
    b = DriftShipper(closed_port_url(), "vision", "v2", registry=registry)
    a.close(0.5)
    b.close(0.5)
    assert count(registry, DROPPED, reason="closed") == 0


def test_shipping_is_off_without_an_exporter_url():
    assert DriftShipper.from_settings(DriftSettings(), service="s", model="m", model_version="v") is None


def test_an_invalid_sample_rate_is_refused():
    with pytest.raises(ValueError, match="sample_rate"):
        DriftShipper("http://x", "m", "v", sample_rate=2.0, registry=CollectorRegistry())


@pytest.mark.parametrize("mode", [DRIP_BODY, DRIP_HEAD])
def test_an_exporter_dripping_its_answer_costs_a_batch_its_timeout_not_the_shipper_its_thread(mode):
    registry = CollectorRegistry()
    with HostileExporter(mode) as exporter:
        s = shipper(exporter.url, registry, timeout=0.3)
        try:
            for i in range(10):
                s.offer({"probs": [0.1, 0.9], "i": i})
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and count(registry, DROPPED, reason="export_failed") < 10:
                time.sleep(0.05)
            assert count(registry, DROPPED, reason="export_failed") == 10
        finally:
            s.close(timeout=1.0)


class _Accepting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real exporter answers

    def do_POST(self):  # noqa: N802 (the name http.server dispatches to)
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_fifty_posts_start_no_thread_and_a_closed_shipper_leaves_none_running(monkeypatch):
    registry = CollectorRegistry()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accepting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started_by_shipper: list[str] = []
    start = threading.Thread.start

    def counting_start(thread):
        if threading.current_thread().name.startswith("mlobs-drift-shipper"):
            started_by_shipper.append(thread.name)
        start(thread)

    before = set(threading.enumerate())
    s = shipper(f"http://127.0.0.1:{server.server_address[1]}", registry, batch_size=1, timeout=0.5)
    monkeypatch.setattr(threading.Thread, "start", counting_start)
    try:
        for i in range(50):
            s.offer({"probs": [0.1, 0.9], "i": i})
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and count(registry, SHIPPED) < i + 1:
                time.sleep(0.002)
    finally:
        s.close(timeout=2.0)
        server.shutdown()
        server.server_close()
    assert count(registry, SHIPPED) == 50  # fifty POSTs, one sample each
    assert started_by_shipper == []
    assert not [t.name for t in set(threading.enumerate()) - before if t.name.startswith("mlobs-drift-shipper")]


def test_closing_a_shipper_whose_post_outlasts_the_close_still_ends_that_post():
    registry = CollectorRegistry()
    before = set(threading.enumerate())
    with HostileExporter(DRIP_BODY) as exporter:
        s = shipper(exporter.url, registry, timeout=30.0)
        s.offer({"probs": [0.1, 0.9]})
        time.sleep(0.5)  # the batch leaves after its 0.05 s flush interval: its POST is dripping now
        s.close(timeout=0.1)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and count(registry, DROPPED, reason="export_failed") < 1:
            time.sleep(0.05)
        assert count(registry, DROPPED, reason="export_failed") == 1
        assert not [t.name for t in set(threading.enumerate()) - before if t.name.startswith("mlobs-drift-shipper")]
