"""A real Prometheus (the OS package's binary) on loopback, for `make local` and the tests."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from mlobs.local.ports import free_port, stop, wait_for_http


class PrometheusError(RuntimeError):
    pass


class Prometheus:
    def __init__(self, config: dict, workdir: Path, port: int | None = None,
                 features: tuple[str, ...] = ("exemplar-storage",), flags: tuple[str, ...] = ()):
        self.binary = shutil.which("prometheus")
        if self.binary is None:
            raise PrometheusError(
                "prometheus is not installed: run scripts/system-deps.sh (Debian package `prometheus`)"
            )
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = self.workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.features = features
        self.flags = flags  # extra command-line flags, e.g. --web.enable-remote-write-receiver
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / "prometheus.log"

    def start(self, timeout: float = 30.0) -> "Prometheus":
        args = [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
        ] + [f"--enable-feature={f}" for f in self.features] + list(self.flags)
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(self.log_path, "wb"))
        try:
            wait_for_http(f"{self.url}/-/ready", timeout, "prometheus")
        except TimeoutError as exc:
            self.stop()
            raise PrometheusError(f"{exc}; log: {self.log_path.read_text()[-2000:]}") from None
        return self

    def stop(self) -> None:
        stop(self.process)

    def __enter__(self) -> "Prometheus":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def api(self, path: str, **params) -> object:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list:
        return self.api("query", query=expr)["result"]

    def series(self, match: str) -> list:
        return self.api("series", **{"match[]": match})

    def exemplars(self, expr: str, start: float, end: float) -> list:
        return self.api("query_exemplars", query=expr, start=start, end=end)

    def wait_until(self, expr: str, timeout: float = 30.0) -> list:
        """Poll an instant query until it returns something."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.5)
        raise PrometheusError(f"no data for {expr!r} after {timeout:.0f}s")


def scrape_config(job: str, targets: list[str], interval: str = "1s") -> dict:
    return {"job_name": job, "scrape_interval": interval, "static_configs": [{"targets": targets}]}
