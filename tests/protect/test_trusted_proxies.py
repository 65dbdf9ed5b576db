"""A reverse proxy in front of `mlobs serve`: it carries every client's connections, and names each
client in X-Forwarded-For. Sent over raw sockets from two loopback addresses, one of them the proxy."""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager

import pytest

from mlobs.protect.settings import ProtectSettings
from protect.apps import ALICE_KEY
from protect.raw import exchange, status_of
from protect.services import serve

PROXY, ELSEWHERE = "127.0.0.2", "127.0.0.3"
BODY = b'{"text": "the food was great"}'


def request(key: str = ALICE_KEY, forwarded_for: str | None = None) -> bytes:
    lines = [b"POST /predict HTTP/1.1", b"Host: x", b"Authorization: Bearer " + key.encode(),
             b"Content-Type: application/json", b"Content-Length: %d" % len(BODY), b"Connection: close"]
    if forwarded_for:
        lines.append(b"X-Forwarded-For: " + forwarded_for.encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + BODY


@contextmanager
def holding(port: int, source: str, n: int):
    """`n` idle connections open from `source` for the duration."""
    held = [socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) for _ in range(n)]
    try:
        time.sleep(0.2)  # the server has accepted them all
        yield
    finally:
        for sock in held:
            sock.close()


def test_a_proxy_written_with_host_bits_is_kept_as_its_network():
    assert ProtectSettings(trusted_proxies=["10.1.2.3/8", "192.0.2.7"]).trusted_proxies == \
        ["10.0.0.0/8", "192.0.2.7/32"]


def test_a_proxy_that_is_not_an_address_is_refused_by_name():
    with pytest.raises(ValueError, match="'proxy.internal' is not an IP address"):
        ProtectSettings(trusted_proxies=["proxy.internal"])


@pytest.fixture(scope="module")
def service(tmp_path_factory, artifacts_dir, sentiment_model):
    log = tmp_path_factory.mktemp("proxies") / "service.log"
    with serve("sentiment", artifacts_dir, log, max_connections_per_address=4, auth_failures_per_address=3,
               trusted_proxies=f'["{PROXY}"]') as running:
        yield running


@pytest.mark.integration
@pytest.mark.slow
def test_one_address_at_its_connection_cap_leaves_another_address_served(service):
    with holding(service.port, "127.0.0.1", 4):
        assert status_of(exchange(service.port, request(), timeout=3)) == 503
        assert status_of(exchange(service.port, request(), source=ELSEWHERE)) == 200


@pytest.mark.integration
@pytest.mark.slow
def test_the_proxy_may_hold_more_connections_than_the_cap(service):
    with holding(service.port, PROXY, 8):
        assert status_of(exchange(service.port, request(), source=PROXY)) == 200


@pytest.mark.integration
@pytest.mark.slow
def test_a_key_guesser_behind_the_proxy_is_refused_by_its_own_address_not_the_proxys(service):
    guesser, neighbour = "203.0.113.9", "203.0.113.10"
    for _ in range(3):
        assert status_of(exchange(service.port, request("wrong-key", guesser), source=PROXY)) == 401
    assert status_of(exchange(service.port, request(ALICE_KEY, guesser), source=PROXY)) == 429
    assert status_of(exchange(service.port, request(ALICE_KEY, neighbour), source=PROXY)) == 200


@pytest.mark.integration
@pytest.mark.slow
def test_a_forwarded_address_from_a_client_that_is_not_a_proxy_is_not_believed(service):
    # From an untrusted peer X-Forwarded-For is ignored: each guess counts against the peer itself,
    # however many addresses it claims to forward for.
    for i in range(3):
        assert status_of(exchange(service.port, request("wrong-key", f"198.51.100.{i}"), source=ELSEWHERE)) == 401
    assert status_of(exchange(service.port, request(ALICE_KEY, "198.51.100.99"), source=ELSEWHERE)) == 429


@pytest.mark.integration
@pytest.mark.slow
def test_a_key_guesser_changing_ipv6_address_within_its_64_is_throttled_and_the_next_64_is_not(service):
    # One IPv6 host holds a /64 and can take a new address per try: counted per address it is never throttled.
    guesses = [f"2001:db8:77:1::{i:x}" for i in range(1, 4)]
    for address in guesses:
        assert status_of(exchange(service.port, request("wrong-key", address), source=PROXY)) == 401
    assert status_of(exchange(service.port, request(ALICE_KEY, "2001:db8:77:1:dead:beef:0:1"), source=PROXY)) == 429
    assert status_of(exchange(service.port, request(ALICE_KEY, "2001:db8:77:2::1"), source=PROXY)) == 200
