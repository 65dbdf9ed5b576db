"""Run an ASGI app of the tests (`module:attribute`) under plain `uvicorn`, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlobs.local.ports import free_port, wait_for_http

TESTS = Path(__file__).resolve().parents[1]


class UvicornApp:
    def __init__(self, target: str, env: dict, log_path: Path, app_dir: Path = TESTS, args: tuple = ()):
        self.target, self.env, self.log_path, self.app_dir, self.args = target, env, log_path, app_dir, args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "UvicornApp":
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", self.target, "--app-dir", str(self.app_dir),
             "--host", "127.0.0.1", "--port", str(self.port), *self.args],
            env={**os.environ, **self.env}, stdout=self._log, stderr=subprocess.STDOUT,
        )
        try:
            wait_for_http(f"{self.url}/healthz", 60, self.target)
        except BaseException:
            self.__exit__()
            raise
        return self

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
