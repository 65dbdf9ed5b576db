"""A real Alertmanager (the OS package's binary) on loopback, for `make local` and the tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from mlobs.local.ports import free_port, stop, wait_for_http


class Alertmanager:
    def __init__(self, config: dict, workdir: Path, port: int | None = None):
        self.binary = shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")
        if self.binary is None:
            raise RuntimeError("alertmanager is not installed: run scripts/system-deps.sh "
                               "(Debian package `prometheus-alertmanager`)")
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = self.workdir / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = self.workdir / "alertmanager.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "Alertmanager":
        self.process = subprocess.Popen(
            [self.binary, f"--config.file={self.config_path}", f"--storage.path={self.workdir / 'am-data'}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             "--cluster.listen-address="],  # empty: no clustering (no gossip port) on loopback
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "wb"),
        )
        wait_for_http(f"{self.url}/-/ready", timeout, "alertmanager")
        return self

    def stop(self) -> None:
        stop(self.process)

    def __enter__(self) -> "Alertmanager":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
