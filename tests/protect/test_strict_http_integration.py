"""Slow clients and ambiguous framing, sent byte by byte over raw sockets to `mlobs serve sentiment`."""

from __future__ import annotations

import socket
import time

import pytest

from protect.apps import ALICE_KEY
from protect.raw import exchange, is_closed, status_of
from protect.services import metric, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BODY = b'{"text": "the food was great"}'


def refused(service, reason: str) -> float:
    return metric(service.url, "mlobs_connections_refused_total", reason=reason)


def request(*header_lines: bytes, body: bytes = BODY, eol: bytes = b"\r\n") -> bytes:
    lines = [b"POST /predict HTTP/1.1", b"Host: x", b"Authorization: Bearer " + ALICE_KEY.encode(),
             b"Content-Type: application/json", *header_lines]
    return eol.join(lines) + eol + eol + body


@pytest.fixture(scope="module")
def service(tmp_path_factory, artifacts_dir, sentiment_model):
    log = tmp_path_factory.mktemp("strict-http") / "service.log"
    with serve("sentiment", artifacts_dir, log, header_timeout_s=1, body_timeout_s=1,
               max_connections_per_address=8) as running:
        yield running


def test_a_well_formed_request_is_answered(service):
    response = exchange(service.port, request(b"Content-Length: %d" % len(BODY), b"Connection: close"))
    assert status_of(response) == 200, response


def test_content_length_with_transfer_encoding_is_refused_and_the_connection_closed(service):
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    before = refused(service, "bad_framing")
    response = exchange(service.port, request(b"Content-Length: 4", b"Transfer-Encoding: chunked",
                                              body=chunked + smuggled))
    assert status_of(response) == 400, response
    assert refused(service, "bad_framing") == before + 1
    assert response.count(b"HTTP/1.1 ") == 1  # nothing after the refusal was read as a request


def test_a_folded_header_line_is_refused(service):
    response = exchange(service.port, request(b"Content-Length: %d" % len(BODY), b"X-Note: one",
                                              b" two"))
    assert status_of(response) == 400, response


def test_a_bare_lf_line_ending_is_refused(service):
    response = exchange(service.port, request(b"Content-Length: %d" % len(BODY), eol=b"\n"))
    assert status_of(response) == 400, response


def test_a_client_sending_its_head_a_byte_at_a_time_gets_408_and_is_closed(service):
    head = request(b"Content-Length: %d" % len(BODY))
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as sock:
        started = time.monotonic()
        answer = b""
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            sock.settimeout(0.3)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            break
        assert time.monotonic() - started < 5
    assert status_of(answer) == 408, answer
    assert refused(service, "head_timeout") >= 1


def test_a_connection_that_sends_nothing_is_closed(service):
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as sock:
        assert is_closed(sock, 4)


def test_a_body_that_never_completes_closes_the_connection(service):
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as sock:
        sock.sendall(request(b"Content-Length: 1000", body=b'{"text": "'))
        assert is_closed(sock, 4)
    assert refused(service, "body_timeout") >= 1


def test_connections_over_the_per_address_cap_are_refused_with_503(service):
    held = [socket.create_connection(("127.0.0.1", service.port), timeout=5) for _ in range(8)]
    try:
        time.sleep(0.2)
        response = exchange(service.port, request(b"Content-Length: %d" % len(BODY)), timeout=3)
        assert status_of(response) == 503, response
        assert b"too_many_connections" in response
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    response = exchange(service.port, request(b"Content-Length: %d" % len(BODY), b"Connection: close"))
    assert status_of(response) == 200, response
    assert refused(service, "per_address_cap") >= 1


def test_garbage_sent_in_a_loop_is_counted_every_time_and_logged_only_a_few_times_a_second(service):
    def logged() -> int:
        return service.log_path.read_text().count("Invalid HTTP request")

    before, log_before = refused(service, "invalid_http") or 0, logged()
    started = time.monotonic()
    answers = [status_of(exchange(service.port, b"NOT HTTP AT ALL\r\n\r\n", timeout=3)) for _ in range(100)]
    elapsed = time.monotonic() - started
    assert answers == [400] * 100
    assert refused(service, "invalid_http") == before + 100
    after_loop = logged()
    assert after_loop - log_before <= 5 + elapsed + 1  # the burst (maybe spent already), then one line a second
    time.sleep(1.5)  # the budget refills: the next one is logged again
    assert status_of(exchange(service.port, b"STILL NOT HTTP\r\n\r\n", timeout=3)) == 400
    deadline = time.monotonic() + 3
    while logged() == after_loop and time.monotonic() < deadline:
        time.sleep(0.05)
    assert logged() == after_loop + 1
