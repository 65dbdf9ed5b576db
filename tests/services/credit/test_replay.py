"""`mlobs audit replay` after a model upgrade: every decision re-runs with the artifact that made it."""

from __future__ import annotations

import argparse
import copy
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from audit import attacker
from mlobs.audit.cli import register
from mlobs.settings import Settings
from mlobs_services.credit import data
from mlobs_services.credit import model as credit_model
from mlobs_services.credit.service import create_app

pytestmark = pytest.mark.slow  # trains two model versions


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", *argv])
    return args.func(args)


def decide_some(settings: Settings, sinks, seed: int) -> list[dict]:
    rows = data.generate(12, seed=seed)
    with TestClient(create_app(settings, configure_logging=False, **sinks.kwargs())) as client:
        return [client.post("/predict", json={k: r[k] for k in ("applicant_id", "personal", "features")}).json()
                | {"applicant_id": r["applicant_id"]} for r in rows]


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory):
    """Decisions made by one model version, then by the next one, in one audit log."""
    from conftest import Sinks

    root = tmp_path_factory.mktemp("replay")
    env = {"MLOBS_ARTIFACTS_DIR": str(root / "artifacts"), "MLOBS_AUDIT__STORE_URL": f"sqlite:///{root / 'audit.db'}",
           "MLOBS_AUDIT__KEYS_DIR": str(root / "keys")}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        settings = Settings(_env_file=None)
        old = credit_model.train(settings.artifacts_dir, progress=False)
        before = decide_some(settings, Sinks(), seed=21)
        mp.setattr(credit_model, "PARAMS", {**copy.deepcopy(credit_model.PARAMS), "C": 0.05})
        new = credit_model.train(settings.artifacts_dir, progress=False)
        after = decide_some(settings, Sinks(), seed=22)
    assert old.version != new.version
    return env, old, new, before, after


@pytest.fixture
def env(upgraded, monkeypatch):
    for name, value in upgraded[0].items():
        monkeypatch.setenv(name, value)
    return upgraded


@pytest.fixture
def copied(env, tmp_path, monkeypatch):
    """A copy of the log and its keys, for a test that changes them."""
    names = env[0]
    shutil.copy(names["MLOBS_AUDIT__STORE_URL"].removeprefix("sqlite:///"), tmp_path / "audit.db")
    shutil.copytree(names["MLOBS_AUDIT__KEYS_DIR"], tmp_path / "keys")
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", url)
    monkeypatch.setenv("MLOBS_AUDIT__KEYS_DIR", str(tmp_path / "keys"))
    return url


def test_a_sample_of_decisions_from_both_versions_replays_exactly(env, capsys):
    _, old, new, before, after = env
    assert {a["model_version"] for a in before} == {old.version}
    assert {a["model_version"] for a in after} == {new.version}
    assert cli("replay", "--sample", "24") == 0
    out = capsys.readouterr().out
    assert out.count(": match (artifact ") == 24
    assert f"artifact {old.version}" in out and f"artifact {new.version}" in out


def test_each_decision_replays_with_its_own_artifact_not_the_one_in_service(env, capsys):
    _, old, _, before, _ = env
    assert cli("replay", before[0]["decision_id"], before[1]["decision_id"]) == 0
    assert capsys.readouterr().out.count(f"match (artifact {old.version})") == 2


def test_a_recorded_outcome_that_the_artifact_does_not_give_fails_the_replay(env, copied, capsys):
    declined = next(a for a in env[3] if a["decision"] == "decline")
    attacker.run(copied, [("UPDATE audit_records SET header = replace(header, '\"decline\"', '\"approve\"') "
                           "WHERE header LIKE ?", (f'%{declined["decision_id"]}%',))])
    assert cli("replay", declined["decision_id"]) == 1
    out = capsys.readouterr().out
    assert "different" in out and "outcome: recorded 'approve', replayed 'decline'" in out


def test_a_forgotten_applicants_decision_cannot_be_replayed_and_says_why(env, copied, capsys):
    _, _, _, _, after = env
    target = after[-1]
    assert cli("forget", target["applicant_id"], "--actor", "dpo") == 0
    assert cli("replay", target["decision_id"]) == 3
    assert "the subject was erased" in capsys.readouterr().out


def test_an_artifact_altered_after_the_fact_is_refused(env, capsys, tmp_path):
    _, old, new, before, _ = env
    artifacts = tmp_path / "artifacts" / "credit"
    shutil.copytree(Path(env[0]["MLOBS_ARTIFACTS_DIR"]) / "credit", artifacts)
    shutil.copy(artifacts / new.version / credit_model.MODEL_FILE, artifacts / old.version / credit_model.MODEL_FILE)
    assert cli("replay", "--artifacts-dir", str(tmp_path / "artifacts"), before[0]["decision_id"]) == 3
    assert "does not have the recorded content hash" in capsys.readouterr().out
