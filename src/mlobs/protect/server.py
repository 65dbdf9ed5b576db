"""The HTTP/1.1 server protocol `mlobs serve` runs: uvicorn's h11 protocol, made strict and bounded.

uvicorn (h11) reads lenient HTTP: a request with both Content-Length and Transfer-Encoding is framed
by Transfer-Encoding, folded header lines (obs-fold) are joined, a bare LF ends a line, and nothing
bounds how long a client may take to send its head or body. Behind a proxy that frames a request
differently, leniency is request smuggling; without read timeouts, a few hundred slow connections
hold the server. This protocol:

- checks each request head before h11 parses it and answers 400 (then closes) on Content-Length
  with Transfer-Encoding, a folded header line, or a line ending in LF without CR;
- answers 408 and closes when the head is not complete `header_timeout_s` after its first byte (or
  after the connection opened), and closes when the body is not complete `body_timeout_s` after the head;
- answers 503 and closes a connection over `max_connections_per_address` from one client source (an
  IPv4 address, or the IPv6 network of `ipv6_source_prefix`: mlobs.protect.sources), except from
  `trusted_proxies` (a proxy carries every client's connections);
- counts every request h11 cannot parse (invalid_http) and lets only a few of uvicorn's per-request
  warnings ("Invalid HTTP request received.") reach the log each second, so garbage sent in a loop
  is a counter, not a log flood.

    uvicorn.run(app, http=strict_protocol(settings.protect), ...)
"""

from __future__ import annotations

import ipaddress
import logging
import re

import h11
import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

from mlobs.protect.sources import DEFAULT_IPV6_PREFIX, source

from mlobs.errors import error_body
from mlobs.protect.limits import TokenBucket

log = logging.getLogger("mlobs.protect")
_BARE_LF = re.compile(rb"(?<!\r)\n")
_HEAD_END = b"\r\n\r\n"
_SMUGGLING_HEADERS = (b"content-length", b"transfer-encoding")
HEAD_SCAN_BYTES = 64 * 1024


def head_problem(data: bytes) -> str | None:
    """Why the request head at the start of `data` must be refused, or None (also while incomplete)."""
    end = data.find(_HEAD_END)
    head = data if end < 0 else data[:end]
    if _BARE_LF.search(head):
        return "a line ends in LF without CR"
    if end < 0:
        return None
    lines = head.split(b"\r\n")
    while lines and not lines[0]:  # empty lines before the request line are allowed (RFC 9112 2.2)
        lines.pop(0)
    names = set()
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            return "a folded header line (obs-fold)"
        names.add(line.partition(b":")[0].strip().lower())
    if all(name in names for name in _SMUGGLING_HEADERS):
        return "both Content-Length and Transfer-Encoding"
    return None


class StrictConnection(h11.Connection):
    """h11 with each request head checked before h11 reads it; `on_event` sees every event."""

    on_event = None
    on_refused = None

    def next_event(self):
        if self.their_state is h11.IDLE:
            # The head only: h11 refuses a head longer than its incomplete-event limit anyway.
            problem = head_problem(bytes(self._receive_buffer._data[:HEAD_SCAN_BYTES]))
            if problem is not None:
                if self.on_refused is not None:
                    self.on_refused("bad_framing")
                raise h11.RemoteProtocolError(f"refused request head: {problem}", error_status_hint=400)
        try:
            event = super().next_event()
        except h11.RemoteProtocolError:
            if self.on_refused is not None:
                self.on_refused("invalid_http")
            raise
        if self.on_event is not None and isinstance(event, (h11.Request, h11.EndOfMessage)):
            self.on_event(event)
        return event


def _raw_response(status: int, reason: str, code: str, message: str) -> bytes:
    body = orjson.dumps(error_body(code, message))
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\nconnection: close\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


_TIMEOUT_408 = _raw_response(408, "Request Timeout", "header_timeout", "the request head took too long")
_BUSY_503 = _raw_response(503, "Service Unavailable", "too_many_connections",
                          "too many open connections from this address")


class _ThrottledWarnings:
    """uvicorn's protocol logger with its warnings (each one caused by what a client sent) under a budget."""

    def __init__(self, logger: logging.Logger, budget: TokenBucket, clock) -> None:
        self._logger, self._budget, self._clock = logger, budget, clock

    def warning(self, message, *args, **kwargs) -> None:
        if self._budget.take(self._clock()) == 0.0:
            self._logger.warning(message, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._logger, name)


class StrictH11Protocol(H11Protocol):
    header_timeout_s = 10.0
    body_timeout_s = 30.0
    max_connections_per_address = 64
    trusted_proxies: tuple = ()  # ipaddress networks whose connections are not capped
    ipv6_source_prefix = DEFAULT_IPV6_PREFIX

    def __init__(self, config, server_state, app_state, _loop=None):
        super().__init__(config, server_state, app_state, _loop)
        self.conn = StrictConnection(h11.SERVER, config.h11_max_incomplete_event_size or 16 * 1024)
        self.conn.on_event = self._on_event
        self.conn.on_refused = self._count
        self._head_timer = None
        self._body_timer = None
        self._address = None
        counts = getattr(server_state, "mlobs_connections", None)
        if counts is None:
            counts = server_state.mlobs_connections = {}
            server_state.mlobs_log_budget = TokenBucket(1.0, 5, self.loop.time())
        self._open_by_address = counts
        self.logger = _ThrottledWarnings(self.logger, server_state.mlobs_log_budget, self.loop.time)

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        address = self.client[0] if self.client else None
        if address is not None and not self._from_proxy(address):
            address = source(address, self.ipv6_source_prefix)
            open_now = self._open_by_address.get(address, 0) + 1
            if open_now > self.max_connections_per_address:
                self._count("per_address_cap")
                self._note("connection refused: %d open from %s (max %d)", open_now - 1, address,
                           self.max_connections_per_address)
                transport.write(_BUSY_503)
                transport.close()
                return
            self._open_by_address[address] = open_now
            self._address = address
        self._arm_head_timer()

    def _from_proxy(self, address: str) -> bool:
        if not self.trusted_proxies:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:  # not an IP address (a Unix socket's peer): capped like any other
            return False
        return any(ip in network for network in self.trusted_proxies)

    def connection_lost(self, exc) -> None:
        if self._address is not None:
            left = self._open_by_address.get(self._address, 1) - 1
            if left > 0:
                self._open_by_address[self._address] = left
            else:
                self._open_by_address.pop(self._address, None)
            self._address = None
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_head_timer()
        super().data_received(data)

    def _on_event(self, event) -> None:
        if isinstance(event, h11.Request):
            self._cancel(self._head_timer)
            self._head_timer = None
            self._body_timer = self.loop.call_later(self.body_timeout_s, self._body_timeout)
        else:  # EndOfMessage: the body is in
            self._cancel(self._body_timer)
            self._body_timer = None

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timeout)

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._count("head_timeout")
            self._note("request head not complete within %g s: connection closed", self.header_timeout_s)
            self.transport.write(_TIMEOUT_408)
            self.transport.close()

    def _body_timeout(self) -> None:
        self._body_timer = None
        if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
            self._count("body_timeout")
            self._note("request body not complete within %g s: connection closed", self.body_timeout_s)
            self.transport.close()

    def _cancel_timers(self) -> None:
        self._cancel(self._head_timer)
        self._cancel(self._body_timer)
        self._head_timer = self._body_timer = None

    @staticmethod
    def _cancel(timer) -> None:
        if timer is not None:
            timer.cancel()

    def _count(self, reason: str) -> None:
        # The app's endpoint protection, if it has one, counts refusals in its own registry.
        protection = getattr(getattr(self.config.app, "state", None), "protection", None)
        if protection is not None:
            protection.metrics.connection_refused(reason).inc()

    def _note(self, message: str, *args) -> None:
        # A flood of slow or surplus connections must not flood the log: a few lines per second.
        if self.server_state.mlobs_log_budget.take(self.loop.time()) == 0.0:
            log.warning(message, *args)


def strict_protocol(ps) -> type[StrictH11Protocol]:
    """A StrictH11Protocol class with the limits of `ps` (ProtectSettings)."""
    return type("StrictH11Protocol", (StrictH11Protocol,), {
        "header_timeout_s": ps.header_timeout_s, "body_timeout_s": ps.body_timeout_s,
        "max_connections_per_address": ps.max_connections_per_address,
        "trusted_proxies": tuple(ipaddress.ip_network(p) for p in ps.trusted_proxies),
        "ipv6_source_prefix": ps.ipv6_source_prefix,
    })
