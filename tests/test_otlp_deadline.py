"""A collector that answers one byte at a time, just inside the per-read timeout, holds an export no
longer than OTEL_EXPORTER_OTLP_[SIGNAL_]TIMEOUT: the export fails there, what it carried is counted as
dropped, and the next one goes ahead."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time

import httpx
import pytest
import requests

from mlobs.local.ports import free_port
from mlobs.otlp_deadline import session
from support.blackhole import DRIP, Blackhole
from support.otlp import OtlpSink, attributes
from support.uvicorn_app import UvicornApp

FAILED = ("spans_export_failed", "metrics_export_failed", "logs_export_failed")


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.integration
def test_a_dripping_collector_holds_each_export_only_until_its_timeout_and_exports_resume(tmp_path):
    with OtlpSink() as sink, Blackhole.before(f"{sink.url}/", mode=DRIP, interval=0.4) as proxy:
        # Each signal's own timeout wins over the general one, as in the SDK.
        env = {"OTEL_METRICS_EXPORTER": "otlp", "OTEL_LOGS_EXPORTER": "otlp", "OTEL_METRIC_EXPORT_INTERVAL": "300",
               "OTEL_BLRP_SCHEDULE_DELAY": "200", "OTEL_BSP_SCHEDULE_DELAY": "200",
               "OTEL_EXPORTER_OTLP_ENDPOINT": proxy.url, "OTEL_EXPORTER_OTLP_TIMEOUT": "30",
               "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "1", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "1",
               "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "1", "MLOBS_ARTIFACTS_DIR": str(tmp_path)}
        with UvicornApp("support.toy_service:app", env, tmp_path / "toy.log") as service:
            assert httpx.post(f"{service.url}/predict/during", timeout=5).status_code == 200
            text = ""

            def counted() -> bool:
                nonlocal text
                text = httpx.get(f"{service.url}/metrics", timeout=5).text
                return all(f'signal="{signal}"' in text for signal in FAILED)

            # The drip would take about a minute to deliver one answer; each export gives up after 1 s.
            assert wait_for(counted, 15), [line for line in text.splitlines() if "telemetry_dropped" in line]
            proxy.heal()
            assert httpx.post(f"{service.url}/predict/after", timeout=5).status_code == 200

            def delivered() -> bool:
                after = {s.trace_id for s in sink.spans if attributes(s).get("url.path") == "/predict/after"}
                durations = [p.count for m in sink.metrics if m.name == "http.server.request.duration"
                             for p in m.histogram.data_points if attributes(p).get("http.route") == "/predict/{kind}"]
                return bool(after) and any(r.trace_id in after for r in sink.logs) and max(durations, default=0) == 2

            assert wait_for(delivered, 15)


class DrippingBody:
    """An HTTP server that sends its status and headers at once, then its body a byte every `interval`:
    what a proxy trickling a stalled upstream looks like."""

    def __init__(self, version: str = "HTTP/1.1", tls: ssl.SSLContext | None = None, length: int = 20,
                 interval: float = 0.25, busy_first: bool = False):
        self.version, self.tls, self.length, self.interval = version, tls, length, interval
        self.busy_first = busy_first  # the first answer: 503, try again at once
        self.requests = 0
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/v1/traces"
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(client,), daemon=True).start()

    def _answer(self, client: socket.socket) -> None:
        with client:
            try:
                if self.tls is not None:
                    client = self.tls.wrap_socket(client, server_side=True)
                client.recv(1 << 16)
                self.requests += 1
                if self.busy_first and self.requests == 1:
                    client.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n"
                                   b"Connection: close\r\n\r\n")
                    return
                client.sendall(f"{self.version} 200 OK\r\nContent-Length: {self.length}\r\n\r\n".encode())
                for _ in range(self.length):
                    if self.stop.wait(self.interval):
                        return
                    client.sendall(b"x")
            except OSError:
                pass

    def __enter__(self) -> DrippingBody:
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.server.close()


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A server context with a self-signed certificate for 127.0.0.1, and that certificate's path."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a certificate with")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, str(cert)


# HTTP/1.1 keeps the connection; HTTP/1.0 closes it after the body, which http.client then reads from a
# socket its connection has let go of.
@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_an_answer_whose_body_drips_ends_at_the_timeout(version, scheme, request):
    context, verify = request.getfixturevalue("tls") if scheme == "https" else (None, True)
    with DrippingBody(version, context) as server:
        exporting = session("TRACES")
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout, match="no whole answer within 0.5 s"):
            exporting.post(server.url, data=b"spans", timeout=0.5, verify=verify)
        assert time.monotonic() - started < 4  # the body alone takes 5 s


def test_the_exporters_retries_and_their_dripping_answer_end_within_its_one_timeout(monkeypatch):
    from opentelemetry.sdk.trace import TracerProvider

    from mlobs.tracing import otlp_exporter

    with DrippingBody(busy_first=True) as server:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", server.url)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")
        exporter = otlp_exporter()
        span = TracerProvider().get_tracer("t").start_span("s")
        span.end()
        started = time.monotonic()
        assert exporter.export([span]).name == "FAILURE"
        elapsed = time.monotonic() - started
        exporter.shutdown()
    assert server.requests == 2  # refused, then retried: that answer drips
    assert elapsed < 4  # its body alone takes 5 s
