"""The native stack's audit witness: wired to the credit service, it cosigns the running log's checkpoints."""

from __future__ import annotations

import time

import httpx
import pytest

from mlobs.audit.checkpoint_note import open_checkpoint, verify_cosignature
from mlobs.audit.keys.signing import load_public_key
from mlobs.local import witness
from mlobs.local.ports import free_port
from mlobs.local.service import Service
from mlobs.local.stack import OFFSETS, LocalStack, Options


def test_the_witness_has_a_port_from_the_base_and_only_the_credit_service_gets_the_token(tmp_path):
    options = Options(workdir=tmp_path, artifacts_dir=tmp_path, ports_base=20000)
    assert options.port(witness.NAME) == 20000 + OFFSETS[witness.NAME]
    assert len(set(OFFSETS.values())) == len(OFFSETS)
    stack = LocalStack(options)
    stack.services["drift-exporter"] = Service("drift-exporter", 1, {}, tmp_path / "x.log")
    assert stack._service_env("credit")["MLOBS_AUDIT__WITNESS_TOKEN"] == stack.witness_token
    assert "MLOBS_AUDIT__WITNESS_TOKEN" not in stack._service_env("sentiment")
    assert stack.witness_token != LocalStack(options).witness_token  # made per run, never a known default


def test_the_log_key_is_pinned_on_the_first_start_only(tmp_path):
    keys, mine = tmp_path / "keys", tmp_path / "witness"
    keys.mkdir()
    (keys / witness.PUBLIC_KEY).write_text("first")
    pinned = witness.pin_log_key(keys, mine)
    (keys / witness.PUBLIC_KEY).write_text("replaced beside the log")
    assert witness.pin_log_key(keys, mine) == pinned and pinned.read_text() == "first"
    with pytest.raises(RuntimeError, match="no public key"):
        witness.pin_log_key(tmp_path / "nowhere", tmp_path / "other")


@pytest.mark.integration
@pytest.mark.slow
def test_the_witness_cosigns_a_checkpoint_of_the_running_credit_service(tmp_path, artifacts_dir):
    from mlobs_services.credit import data, model

    model.train(artifacts_dir, progress=False)
    token, audit = witness.new_token(), tmp_path / "audit" / "credit"
    env = {"MLOBS_ARTIFACTS_DIR": str(artifacts_dir), "MLOBS_AUDIT__STORE_URL": f"sqlite:///{audit / 'audit.db'}",
           "MLOBS_AUDIT__KEYS_DIR": str(audit / "keys"), "MLOBS_AUDIT__CHECKPOINT_INTERVAL_S": "0.2",
           **witness.log_env(token)}
    with Service("credit", free_port(), env, tmp_path / "credit.log") as credit:
        row = data.generate(1, seed=5)[0]
        answer = httpx.post(f"{credit.url}/predict", json={k: row[k] for k in ("applicant_id", "personal", "features")},
                            timeout=30)
        assert answer.status_code == 200, answer.text
        watcher = witness.witness_service(credit.url, audit / "keys", tmp_path / witness.NAME, free_port(), token,
                                          tmp_path / "witness.log", interval_s=0.2)
        with watcher:
            deadline, notes = time.monotonic() + 30, []
            while not notes and time.monotonic() < deadline:
                notes = httpx.get(f"{watcher.url}/checkpoints", timeout=5).json()["notes"]
                time.sleep(0.2)
            health = httpx.get(f"{watcher.url}/healthz", timeout=5).json()
    assert notes, f"nothing cosigned; witness health {health}; log:\n{watcher.log_tail()}"
    head = open_checkpoint(notes[-1], load_public_key(audit / "keys" / witness.PUBLIC_KEY))
    assert head.size >= 1 and health["ok"]
    verify_cosignature(notes[-1], load_public_key(tmp_path / witness.NAME / "witness_key.pub.pem"))
