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


def stream_until_answered(port: int, head: bytes, most: int) -> tuple[int, bytes]:
    """Send `head`, then chunks of 10,000 spaces until the server answers or `most` bytes went;
    returns (bytes of body sent, the answer's first bytes)."""
    import select

    chunk = b"%x\r\n%s\r\n" % (10_000, b" " * 10_000)
    sent, response = 0, b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        while sent < most and not response:
            sock.sendall(chunk)
            sent += 10_000
            if select.select([sock], [], [], 0.001)[0]:  # answered while the body still streams
                response = sock.recv(65536)
    return sent, response
