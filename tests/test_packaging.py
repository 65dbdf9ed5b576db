from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mlobs import __version__

ROOT = Path(__file__).resolve().parents[1]


def test_the_distribution_lists_every_package_of_the_library_and_services():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = set()
    for prefix, base in (("mlobs", ROOT / "src" / "mlobs"), ("mlobs_services", ROOT / "services")):
        for init in base.rglob("__init__.py"):
            parts = init.parent.relative_to(base).parts
            on_disk.add(".".join((prefix, *parts)))
    assert set(config["packages"]) == on_disk


def test_the_library_reaches_services_only_through_the_registry():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "src" / "mlobs").rglob("*.py")
        if "mlobs_services" in path.read_text() and path.name != "registry.py"
    ]
    assert offenders == []


TOY = '''
import asyncio, sys
from fastapi import FastAPI
from mlobs import ModelInfo, instrument

app = FastAPI()
telemetry = instrument(app, ModelInfo("toy", "v1", "d", "c"))


@app.get("/hello")
async def hello():
    return {"hello": "world"}


async def call(path):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}
    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]).decode()


status, body = asyncio.run(call("/hello"))
assert (status, body) == (200, '{"hello":"world"}'), (status, body)
status, metrics = asyncio.run(call("/metrics"))
assert status == 200 and 'route="/hello"' in metrics, metrics[:500]
heavy = sorted({"numpy", "httpx", "uvicorn", "cryptography", "sklearn", "torch", "yaml"} & set(sys.modules))
assert not heavy, heavy
print("ok")
'''


@pytest.mark.integration
@pytest.mark.slow
def test_the_core_library_installs_alone_and_instruments_an_app(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True, timeout=900)
    installed = {line.split("==")[0].lower() for line in subprocess.run(
        [str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout.splitlines()}
    heavy_packages = {"numpy", "uvicorn", "httpx", "cryptography", "psycopg", "grafanalib", "scikit-learn", "torch"}
    assert not heavy_packages & installed
    (tmp_path / "toy.py").write_text(TOY)
    run = subprocess.run([str(python), str(tmp_path / "toy.py")], capture_output=True, text=True, cwd=tmp_path)
    assert "ok" in run.stdout.splitlines(), run.stderr  # then the access line, written out at exit
    version = subprocess.run([str(venv / "bin" / "mlobs"), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"mlobs {__version__}", version.stderr
