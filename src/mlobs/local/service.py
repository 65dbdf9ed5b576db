"""One mlobs process (`mlobs serve NAME` or `mlobs traffic ...`) as a child with its own log file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlobs.local.ports import stop, wait_for_http


class Child:
    """A child process in its own session, so a terminal's Ctrl-C reaches only the parent, which stops it in order."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path):
        self.name, self.args, self.log_path = name, args, Path(log_path)
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen | None = None

    def start(self) -> "Child":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        stop(self.process, timeout)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class Service(Child):
    """`mlobs serve NAME` on loopback."""

    def __init__(self, name: str, port: int, env: dict[str, str], log_path: Path):
        super().__init__(name, [sys.executable, "-m", "mlobs.cli", "serve", name, "--host", "127.0.0.1",
                                "--port", str(port)], env, log_path)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> "Service":
        """Started and answering /healthz (stopped again if it never does)."""
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_ready(self, timeout: float = 120.0) -> None:
        try:
            wait_for_http(f"{self.url}/healthz", timeout, f"mlobs serve {self.name}")
        except TimeoutError as exc:
            status = "exited" if not self.running else "still starting"
            raise RuntimeError(f"{exc} ({status}); log {self.log_path}:\n{self.log_tail()}") from None


def traffic(service: str, url: str, *, rate: float, duration: float, scenario: str, scenario_delay: float,
            seed: int, log_path: Path) -> Child:
    """`mlobs traffic` against one service: the normal workload, then `scenario` after `scenario_delay` seconds."""
    args = [sys.executable, "-m", "mlobs.cli", "traffic", "--target", url, "--service", service,
            "--rate", f"{rate:g}", "--duration", f"{duration:g}", "--scenario", scenario,
            "--scenario-delay", f"{scenario_delay:g}", "--seed", str(seed), "--quiet"]
    return Child(f"traffic-{service}", args, {}, log_path)
