"""Run an mlobs service as a real process (uvicorn), as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlobs.local.ports import free_port, stop, wait_for_http


class ServiceProcess:
    def __init__(self, name: str, env: dict, log_path: Path, port: int | None = None):
        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "ServiceProcess":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlobs.cli", "serve", self.name, "--port", str(self.port)],
            env=self.env, stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT,
        )
        try:
            wait_for_http(f"{self.url}/healthz", 60, f"mlobs serve {self.name}")
        except TimeoutError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        stop(self.process)
