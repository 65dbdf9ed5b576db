"""Whole-answer deadlines for synchronous httpx clients.

httpx's timeout bounds each read and write, not the answer: a server that sends a byte just inside it,
in its head or its body, holds the request for as long as it keeps doing so (a hung or hostile
dependency, a proxy trickling a stalled upstream). A client from `client()` bounds every read, write
and connection by what is left of the deadline `within(seconds)` set for its thread, so the request
fails with an httpx timeout once the whole answer has taken that long. Outside `within`, it is a plain
client.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

import httpcore
import httpx

_local = threading.local()


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Requests of this thread's deadline clients, in this block, end within `seconds` in all."""
    outer = getattr(_local, "deadline", None)
    deadline = (time.monotonic() + seconds, seconds)
    _local.deadline = deadline if outer is None else min(outer, deadline)
    try:
        yield
    finally:
        _local.deadline = outer


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline[0] - time.monotonic()
    if left <= 0:
        raise error(f"no whole answer within {deadline[1]:g} s")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _Stream(self._inner.connect_tcp(host, port, _left(timeout, httpcore.ConnectTimeout),
                                               local_address, socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _Stream(self._inner.connect_unix_socket(path, _left(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def transport(**kwargs) -> httpx.HTTPTransport:
    """An httpx transport whose connections keep the deadline of `within`."""
    made = httpx.HTTPTransport(**kwargs)
    pool = made._pool  # httpx builds its httpcore pool with no way to pass a network backend in
    pool._network_backend = _Backend(pool._network_backend)
    return made


_TRANSPORT_ARGS = ("verify", "cert", "trust_env", "http1", "http2", "limits")


def client(**kwargs) -> httpx.Client:
    """An httpx.Client (same arguments, no `transport`) whose requests keep the deadline of `within`."""
    made = transport(**{k: kwargs[k] for k in _TRANSPORT_ARGS if k in kwargs})
    return httpx.Client(transport=made, **{k: v for k, v in kwargs.items() if k not in _TRANSPORT_ARGS})
