"""A TCP proxy on loopback that turns a dependency into one that stops answering, as a network partition,
a hung host or a wedged server does: the connection stays up, the kernel acknowledges every byte, and no
answer ever comes. No timeout in the kernel (keepalives, TCP_USER_TIMEOUT) can tell it from a slow
server; only the client's own deadline can.

Modes, switched while it runs:
- FORWARD: a plain proxy to `upstream`.
- SWALLOW: a partition. Every connection open now, and every one accepted while it lasts, is read and
  never answered nor forwarded, for good: after `heal()` new connections are forwarded again, but the
  ones caught in the partition stay dead, as connections through a failed-over or rebooted peer do.
- DRIP: forwarded, but each answer reaches the client one byte per `interval`.
With no upstream, a connection that would be forwarded is swallowed: a server that accepts and never
answers.
"""

from __future__ import annotations

import socket
import threading

from mlobs.local.ports import free_port

FORWARD, SWALLOW, DRIP = "forward", "swallow", "drip"


class _Link:
    """One client connection and its upstream; `dead` once a partition has caught it."""

    def __init__(self, client: socket.socket, upstream: socket.socket | None, dead: bool) -> None:
        self.client, self.upstream, self.dead = client, upstream, dead or upstream is None

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass


def port_of(url: str) -> int:
    """The port of a URL that names one (http://host:port/..., postgresql://user@host:port/db?...)."""
    return int(url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


class Blackhole:
    @classmethod
    def before(cls, url: str, **kwargs) -> Blackhole:
        """A proxy to the loopback server `url` names; `proxy.via(url)` is the URL that goes through it."""
        return cls(upstream=("127.0.0.1", port_of(url)), **kwargs)

    def via(self, url: str) -> str:
        """`url` with its port replaced by the proxy's."""
        return url.replace(f":{port_of(url)}/", f":{self.port}/", 1)

    def __init__(self, upstream: tuple[str, int] | None = None, mode: str = FORWARD, interval: float = 0.2):
        self.upstream, self.mode, self.interval = upstream, mode, interval
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted = 0
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name="blackhole-accept").start()

    def __enter__(self) -> Blackhole:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def partition(self) -> None:
        """Swallow everything from now on, on every connection open now too."""
        with self._lock:
            self.mode = SWALLOW
            for link in self._links:
                link.dead = True

    def heal(self, mode: str = FORWARD) -> None:
        """New connections reach the upstream again; those the partition caught stay dead."""
        self.mode = mode

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            upstream = None
            if self.upstream is not None and self.mode != SWALLOW:
                try:
                    upstream = socket.create_connection(self.upstream, timeout=5)
                    upstream.settimeout(None)
                except OSError:
                    client.close()
                    continue
            with self._lock:
                link = _Link(client, upstream, self.mode == SWALLOW)
                self._links.append(link)
            threading.Thread(target=self._pump, args=(link, client, upstream, False), daemon=True).start()
            if upstream is not None:
                threading.Thread(target=self._pump, args=(link, upstream, client, True), daemon=True).start()

    def _pump(self, link: _Link, source: socket.socket, target: socket.socket | None, answers: bool) -> None:
        try:
            while data := source.recv(1 << 16):
                if link.dead or target is None:
                    continue  # read, so the sender's kernel sees every byte acknowledged
                if answers and self.mode == DRIP:
                    for i in range(len(data)):
                        if self._stop.wait(self.interval) or link.dead:
                            break
                        target.sendall(data[i : i + 1])
                else:
                    target.sendall(data)
        except OSError:
            pass
        if not link.dead and not self._stop.is_set():
            link.close()  # an end closed while forwarding: the other end sees it close too

    def close(self) -> None:
        self._stop.set()
        self.server.close()
        with self._lock:
            for link in self._links:
                link.close()
