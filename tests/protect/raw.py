"""Raw HTTP over a socket: what an attacker sends, byte for byte, and what comes back."""

from __future__ import annotations

import socket
import time


def exchange(port: int, data: bytes, timeout: float = 5.0, source: str = "127.0.0.1") -> bytes:
    """Send `data` from the address `source` (any of 127/8 is this host's loopback), then read
    until the server closes the connection or `timeout` passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as sock:
        sock.sendall(data)
        return read_until_closed(sock, timeout)


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    return out


def status_of(response: bytes) -> int | None:
    """The status code of the first response in `response`, or None if there is none."""
    if not response.startswith(b"HTTP/1.1 "):
        return None
    return int(response[9:12])


def is_closed(sock: socket.socket, timeout: float) -> bool:
    """True when the server closes `sock` within `timeout` seconds (whatever it sent first)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
        return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
