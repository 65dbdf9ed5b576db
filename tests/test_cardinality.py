"""No request, with or without a key, can make /metrics grow without bound: 20,000 made-up methods
and 20,000 made-up paths against a running service answer in a handful of series."""

from __future__ import annotations

import socket

import httpx
import pytest

from mlobs.protect import hash_key
from support.uvicorn_app import UvicornApp

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def pipelined(port: int, requests: list[bytes], batch: int = 200) -> list[int]:
    """Send raw HTTP/1.1 requests on one keep-alive connection, `batch` at a time; the status codes."""
    statuses = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        buffer = b""
        for i in range(0, len(requests), batch):
            chunk = requests[i:i + batch]
            sock.sendall(b"".join(chunk))
            for _ in chunk:
                while b"\r\n\r\n" not in buffer:
                    data = sock.recv(65536)
                    assert data, "the server closed the connection"
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                lines = head.split(b"\r\n")
                statuses.append(int(lines[0].split()[1]))
                length = next((int(l.split(b":", 1)[1]) for l in lines[1:]
                               if l.lower().startswith(b"content-length:")), 0)
                while len(buffer) < length:
                    data = sock.recv(65536)
                    assert data, "the server closed the connection"
                    buffer += data
                buffer = buffer[length:]
    return statuses


REFUSED = {401, 404, 405, 429}


def request(method: str, path: str) -> bytes:
    return f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n\r\n".encode()


def metrics_size(url: str) -> int:
    return len(httpx.get(f"{url}/metrics").content)


def test_twenty_thousand_made_up_methods_and_paths_without_a_key_leave_metrics_small(tmp_path):
    env = {"TOY_PROTECT": "1",
           "MLOBS_PROTECT__API_KEYS": f'{{"alice": "{hash_key("mlobs_test-alice-key-0123456789")}"}}',
           "MLOBS_ARTIFACTS_DIR": str(tmp_path / "artifacts")}
    with UvicornApp("support.toy_service:app", env, tmp_path / "toy.log") as service:
        warm = pipelined(service.port, [request("GET", f"/warm/{i}") for i in range(2_000)]
                         + [request(f"WARM{i}", "/predict/a") for i in range(2_000)])
        # Refused for want of a key (401), then throttled as key guessing from one address (429).
        assert set(warm) <= REFUSED
        size_before, rss_before = metrics_size(service.url), service.rss_bytes()
        statuses = pipelined(service.port, [request(f"M{i:05d}X", "/predict/a") for i in range(20_000)])
        statuses += pipelined(service.port, [request("POST", f"/made/up/{i}/path") for i in range(20_000)])
        body = httpx.get(f"{service.url}/metrics").text
        rss_after = service.rss_bytes()
    assert len(statuses) == 40_000 and set(statuses) <= REFUSED
    assert len(body.encode()) < 100_000, f"/metrics grew from {size_before} to {len(body.encode())} bytes"
    assert "M00001X" not in body and "/made/up/" not in body
    assert 'method="_OTHER"' in body
    assert rss_after - rss_before < 20 * 1024 * 1024, f"grew {(rss_after - rss_before) / 2**20:.1f} MB"
