"""SIGKILL the credit service under load: no acknowledged decision may be missing afterwards."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import httpx
import pytest

from mlobs.audit import AuditLog
from mlobs.settings import Settings
from mlobs_services.credit import data
from support.processes import ServiceProcess

pytestmark = pytest.mark.integration


async def load_until_killed(url: str, process: subprocess.Popen, acknowledged: list[str]) -> None:
    rows = data.generate(400, seed=77)

    async def client(worker: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            for i in range(worker, len(rows), 16):
                row = rows[i]
                try:
                    body = {k: row[k] for k in ("applicant_id", "personal", "features")}
                    response = await http.post("/predict", json=body)
                except httpx.HTTPError:
                    return  # the service is dead
                if response.status_code == 200:
                    acknowledged.append(response.json()["decision_id"])

    async def killer() -> None:
        while len(acknowledged) < 100:
            await asyncio.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)

    await asyncio.gather(killer(), *(client(w) for w in range(16)))


def test_a_killed_service_loses_no_acknowledged_decision_and_its_chain_verifies(tmp_path, artifacts_dir,
                                                                               credit_model):
    env = {"MLOBS_ARTIFACTS_DIR": str(artifacts_dir), "MLOBS_AUDIT__STORE_URL": f"sqlite:///{tmp_path / 'a.db'}",
           "MLOBS_AUDIT__KEYS_DIR": str(tmp_path / "keys"), "MLOBS_ACCESS_LOG": "false"}
    acknowledged: list[str] = []
    with ServiceProcess("credit", env, tmp_path / "service.log") as service:
        asyncio.run(load_until_killed(service.url, service.process, acknowledged))
        assert service.process.wait(10) == -signal.SIGKILL

    key = str(tmp_path / "keys" / "checkpoint_signing.pub.pem")
    # Killed: its last second of records may not be signed yet; the restart signs them.
    verify = subprocess.run([sys.executable, "-m", "mlobs.cli", "audit", "verify", "--public-key", key,
                             "--allow-unsigned-tail"], env={**os.environ, **env}, capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    with ServiceProcess("credit", env, tmp_path / "restarted.log") as service:  # restarts on the same chain
        row = data.generate(1, seed=78)[0]
        body = {k: row[k] for k in ("applicant_id", "personal", "features")}
        assert httpx.post(f"{service.url}/predict", json=body).status_code == 200
    verify = subprocess.run([sys.executable, "-m", "mlobs.cli", "audit", "verify", "--public-key", key],
                            env={**os.environ, **env}, capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    audit_settings = Settings().audit.model_copy(update={"store_url": env["MLOBS_AUDIT__STORE_URL"],
                                                         "keys_dir": tmp_path / "keys"})
    with AuditLog.open(audit_settings, base_dir=tmp_path) as log:
        stored = {r["decision_id"] for r in log.query(event_type="decision")}
        assert len(acknowledged) >= 100
        assert set(acknowledged) <= stored
        assert log.verify().ok
