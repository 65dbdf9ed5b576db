from __future__ import annotations

import socket
import subprocess
import threading
import time

import httpx


_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def free_port() -> int:
    """A loopback port free now and never handed out before by this process: native stacks started side
    by side (the scenario runs) choose their ports long before their servers bind them, and the kernel
    may offer one stack a port another has chosen but not yet bound."""
    with _handed_out_lock:
        for _ in range(1000):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("no free loopback port left that this process has not handed out already")


def wait_for_http(url: str, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{what or url} did not answer 200 within {timeout:.0f}s (last error: {last})")


def stop(process: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it is still there after `timeout`."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
