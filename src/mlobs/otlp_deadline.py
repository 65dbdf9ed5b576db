"""Whole-answer deadlines for the OTLP/HTTP exporters' requests.

The SDK's exporters send with requests, whose timeout bounds the connect and each read, not the answer:
a collector (or a proxy or load balancer in front of it) that sends a byte just inside the timeout holds
the export thread for as long as it keeps doing so, while every span, metric and log line behind it is
dropped. mlobs gives each exporter a `session()` (their `session=` argument): every request sent through
it, its answer's body included, ends within the timeout the exporter passes it, or fails as a requests
ReadTimeout, which the exporter reports as a failed export (counted as dropped by mlobs). The exporter
passes what is left of its own bound (OTEL_EXPORTER_OTLP_[SIGNAL_]TIMEOUT, the SDK's precedence), so an
export, its retries included, ends within that bound.

At the deadline one watchdog thread shuts the exchange's socket down, which ends a read or write blocked
in the kernel at once, in plain HTTP and TLS alike. Per export that costs a heap push and one wake-up of
that thread: microseconds next to an HTTP round trip.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

log = logging.getLogger("mlobs.otlp")

_local = threading.local()


class _Exchange:
    """One request and its answer, on the thread sending it, with the sockets it has used."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self._finished = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def attach(self, sock) -> None:
        if sock is None:
            return
        with self._lock:
            if self._finished or any(s is sock for s in self._sockets):
                return
            self._sockets.append(sock)
            if self.expired:  # connected after the deadline: it ends now
                _shut(sock)

    def expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def finish(self) -> None:
        with self._lock:
            self._finished = True
            self._sockets.clear()

    @property
    def finished(self) -> bool:
        return self._finished


def _shut(sock) -> None:
    # socket.socket's own shutdown, not SSLSocket's: no TLS close_notify to send to a peer that may
    # not read it, and the TLS state the blocked read is using is left to that read.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # closed or detached already: nothing left to end


class _Watchdog:
    """One daemon thread expiring exchanges at their deadlines; started with the first one."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Exchange]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, exchange: _Exchange) -> None:
        with self._wake:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mlobs-otlp-deadline", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (exchange.deadline, next(self._order), exchange))
            if self._heap[0][2] is exchange:
                self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._heap and self._heap[0][2].finished:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                left = self._heap[0][0] - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._heap)[2].expire()

    def reset(self) -> None:
        """In a forked child: no thread, and a lock nobody holds."""
        self._heap, self._wake, self._thread = [], threading.Condition(), None


_watchdog = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_watchdog.reset)


def _attach(sock) -> None:
    exchange = getattr(_local, "exchange", None)
    if exchange is not None:
        exchange.attach(sock)


class _Watched:
    """Connections that hand their sockets to the exchange of the thread using them: the TCP socket as
    soon as it is connected (a TLS handshake or proxy tunnel then reads it), and the one the request
    and answer go over (a TLS one, or one kept alive from an earlier exchange). The exchange keeps them:
    http.client lets go of the socket of an answer that closes the connection once its head is read,
    and reads the body from it still."""

    def _new_conn(self):
        sock = super()._new_conn()
        _attach(sock)
        return sock

    def request(self, *args, **kwargs):
        _attach(self.sock)
        return super().request(*args, **kwargs)

    def getresponse(self, *args, **kwargs):
        _attach(self.sock)  # in case request() connected it: a TLS socket made after request's hand-over
        return super().getresponse(*args, **kwargs)


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


def _seconds(timeout) -> float | None:
    """A whole-answer bound from requests' timeout: the exporters pass one number."""
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return max(0.0, float(timeout))
    return None


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose requests, given a number as timeout, end within it in all: connect, request,
    status, headers and body."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.ProxyManager:  # a SOCKS proxy's pools are its own: left as they are
            manager.pool_classes_by_scheme = _POOLS
        return manager

    def send(self, request, stream=False, timeout=None, **kwargs):
        seconds = _seconds(timeout)
        if seconds is None or stream:
            return super().send(request, stream=stream, timeout=timeout, **kwargs)
        exchange = _Exchange(seconds)
        outer = getattr(_local, "exchange", None)
        _local.exchange = exchange
        _watchdog.watch(exchange)
        try:
            response = super().send(request, stream=False, timeout=timeout, **kwargs)
            _ = response.content  # the body too, within the deadline
        except Exception as error:
            if exchange.expired:
                self.close()
                raise requests.exceptions.ReadTimeout(_message(exchange), request=request) from error
            raise
        finally:
            _local.exchange = outer
            exchange.finish()
        if exchange.expired:  # the answer ended as its socket was shut: not one to trust
            self.close()
            raise requests.exceptions.ReadTimeout(_message(exchange), request=request)
        return response


def _message(exchange: _Exchange) -> str:
    return f"no whole answer within {exchange.seconds:.3g} s"


def _credential_session(signal: str) -> requests.Session | None:
    """The session of the credential provider OTEL_PYTHON_EXPORTER_OTLP_HTTP_[SIGNAL_]CREDENTIAL_PROVIDER
    names, as the SDK's exporter would load it had it not been given one."""
    try:
        from opentelemetry.exporter.otlp.proto.http._common import _load_session_from_envvar
    except ImportError:
        return None
    return _load_session_from_envvar(f"OTEL_PYTHON_EXPORTER_OTLP_HTTP_{signal}_CREDENTIAL_PROVIDER")


def session(signal: str) -> requests.Session:
    """A session for the OTLP/HTTP exporter of `signal` ("TRACES", "METRICS" or "LOGS") whose requests end
    within the timeout the exporter gives each one. A credential provider's session is kept, with this
    adapter in place of requests' default one (one of its own is left alone, without the deadline)."""
    made = _credential_session(signal) or requests.Session()
    for prefix in ("https://", "http://"):
        current = made.adapters.get(prefix)
        if current is None or type(current) is HTTPAdapter:
            made.mount(prefix, DeadlineAdapter())
        else:
            log.warning("the %s OTLP exporter's session has an adapter of its own for %s: its exports are "
                        "bounded by each read, not by a whole-answer deadline", signal.lower(), prefix)
    return made
