"""`python -m mlobs.local` as a user starts it, with short timings: its printed addresses, and a clean stop."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

READY = "Ctrl-C stops everything"


def where(lines: list[str]) -> dict[str, str]:
    """The URLs `python -m mlobs.local` prints, by name."""
    out = {}
    for line in lines:
        parts = line.split()
        if line.startswith("  ") and len(parts) >= 2 and parts[1].startswith("http"):
            out[parts[0]] = parts[1]
    return out


class NativeStack:
    """`with NativeStack(workdir, artifacts, "--rate", "2") as stack:` started; `stack.urls` by name."""

    def __init__(self, workdir: Path, artifacts_dir: Path, *args: str, duration: float = 600):
        self.args = [sys.executable, "-m", "mlobs.local", "--ports-base", "0", "--interval", "1s",
                     "--workdir", str(workdir), "--artifacts-dir", str(artifacts_dir), "--duration", f"{duration:g}",
                     *args]
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []
        self.rest = ""  # what it printed after `stop()`

    def read_until(self, prefix: str = "", contains: str = "") -> str:
        """Lines until one starts with `prefix` and contains `contains`; returns that line ("" at the end)."""
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith(prefix) and contains in line:
                return line
        return ""

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def urls(self) -> dict[str, str]:
        return where(self.lines)

    def __enter__(self) -> "NativeStack":
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.read_until(contains=READY)
        return self

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, as a terminal's Ctrl-C would: the stack stops its children in order. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.rest = self.process.communicate(timeout=timeout)[0]
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __exit__(self, *exc) -> None:
        # SIGTERM first even when a check failed: a SIGKILL would leave the children (each in its own
        # session) running.
        self.stop()


def pages_by_itself(workdir: Path, artifacts_dir: Path) -> None:
    """The same code path as `make local`, only with short timings (windows of 50 at 20 req/s, 1 s scrapes):
    its own shift reaches the on-call receiver as a page, the terminal says so, and the stack keeps running."""
    import time

    import httpx

    with NativeStack(workdir, artifacts_dir, "--rate", "20", "--drift-window", "50", "--scenario-delay", "15",
                     "--drift-page-window", "15s", "--alert-wait", "1s", duration=400) as local:
        page = local.read_until(prefix="PAGE:")
        assert page.startswith("PAGE: EstimatedAccuracyDrop"), local.output
        assert "after the shift" in page, local.output
        pages_url = page.rsplit(" ", 1)[1].strip()
        time.sleep(2)
        assert local.process.poll() is None, local.output  # still running after the page
        kept = httpx.get(pages_url, params={"alertname": "EstimatedAccuracyDrop"}, timeout=5).json()["notifications"]
        assert kept and kept[0]["alerts"][0]["labels"]["severity"] == "page"
