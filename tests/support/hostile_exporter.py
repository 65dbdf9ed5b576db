"""A broken drift exporter on loopback, for the shipper's tests: it takes connections and then misbehaves
in the way `mode` says, which may change while it runs."""

from __future__ import annotations

import socket
import threading

SILENT = "silent"  # reads the request, never answers
ERROR = "error"  # answers 500 at once
DRIP_BODY = "drip-body"  # sends a head, then a long body one byte at a time
DRIP_HEAD = "drip-head"  # sends a head one byte at a time that never ends


class HostileExporter:
    def __init__(self, mode: str = SILENT, interval: float = 0.05):
        self.mode, self.interval = mode, interval
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> "HostileExporter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        head = b"HTTP/1.1 202 Accepted\r\ncontent-length: 1000000\r\n"
        with conn:
            try:
                while conn.recv(1 << 20):
                    if self.mode == ERROR:
                        conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
                    elif self.mode == SILENT:
                        continue
                    else:
                        self._drip(conn, head + b"\r\n" if self.mode == DRIP_BODY else head + b"x-padding: ")
            except OSError:
                return

    def _drip(self, conn: socket.socket, first: bytes) -> None:
        conn.sendall(first)
        while not self.stop.wait(self.interval):
            conn.sendall(b"a")

    def close(self) -> None:
        self.stop.set()
        self.server.close()
