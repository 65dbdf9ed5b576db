"""A credit applicant forgotten with `mlobs audit forget`: nothing of theirs stays readable anywhere."""

from __future__ import annotations

import argparse

import pytest
from fastapi.testclient import TestClient

from mlobs.audit import AuditLog
from mlobs.audit.cli import register
from mlobs.audit.keys.pseudonym import Keyring
from mlobs.audit.keys.subject_map import mapping_names
from mlobs_services.credit import data
from mlobs_services.credit.service import create_app

CANARY = {
    "applicant_id": "CANARY-ID-7781-Q",
    "name": "Canaria Zweistein-Quokka",
    "email": "canaria.zq7781@example.org",
    "postcode": "ZQ81 7QX",
    "income": 87654.32,
}


@pytest.fixture
def audit_dir(tmp_path):
    return tmp_path / "audit"


@pytest.fixture
def audited(settings, audit_dir, monkeypatch, artifacts_dir):
    monkeypatch.setenv("MLOBS_ARTIFACTS_DIR", str(artifacts_dir))
    monkeypatch.setenv("MLOBS_AUDIT__STORE_URL", f"sqlite:///{audit_dir / 'audit.db'}")
    monkeypatch.setenv("MLOBS_AUDIT__KEYS_DIR", str(audit_dir / "keys"))
    monkeypatch.setenv("MLOBS_AUDIT__CHECKPOINT_MIRROR", str(audit_dir / "mirror.jsonl"))
    from mlobs.settings import Settings

    return Settings(_env_file=None)


def canary_application() -> dict:
    row = data.generate(1, seed=5)[0]
    personal = {**row["personal"], **{k: CANARY[k] for k in ("name", "email", "postcode")}}
    return {"applicant_id": CANARY["applicant_id"], "personal": personal,
            "features": {**row["features"], "income": CANARY["income"]}}


def cli(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", *argv])
    return args.func(args)


def plaintext_leaks(directory) -> dict[str, list[str]]:
    """Canary values found in the raw bytes of any file under `directory` (pages, WAL, freelist)."""
    needles = {name: str(value).encode() for name, value in CANARY.items()}
    found = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        content = path.read_bytes()
        hits = [name for name, needle in needles.items() if needle in content]
        if hits:
            found[str(path.relative_to(directory))] = hits
    return found


def test_a_forgotten_applicant_leaves_no_plaintext_and_no_link_in_any_file(audited, audit_dir, sinks, credit_model,
                                                                           capsys):
    app = create_app(audited, configure_logging=False, **sinks.kwargs())
    with TestClient(app) as client:
        answers = [client.post("/predict", json=canary_application()).json() for _ in range(2)]
        for row in data.generate(20, seed=6):  # other applicants, before and after in the same pages
            body = {k: row[k] for k in ("applicant_id", "personal", "features")}
            assert client.post("/predict", json=body).status_code == 200
        assert plaintext_leaks(audit_dir) == {}  # while the service runs: WAL, lookup and key stores
    with AuditLog.open(audited) as log:
        found = {r["decision_id"] for r in log.query(subject=CANARY["applicant_id"])}
    assert found == {a["decision_id"] for a in answers}

    keyring = Keyring.load_or_create(audit_dir / "keys" / "pseudonym_keyring.json")
    links = [name.encode() for name in mapping_names(keyring, CANARY["applicant_id"])]
    assert any(link in path.read_bytes() for link in links for path in (audit_dir / "keys").glob("subject_keys*"))

    assert cli("forget", CANARY["applicant_id"], "--actor", "dpo") == 0
    capsys.readouterr()
    assert cli("query", "--subject", CANARY["applicant_id"]) == 0
    assert capsys.readouterr().out == ""
    assert plaintext_leaks(audit_dir) == {}
    # The link itself is gone from every byte of every file: the raw id's HMAC names nothing.
    assert [str(p) for p in audit_dir.rglob("*") if p.is_file() and any(link in p.read_bytes() for link in links)] == []
    with AuditLog.open(audited) as log:
        records = [log.query(decision_id=a["decision_id"])[0] for a in answers]
        assert all(set(r["model_inputs"]) == {"nonce", "ct"} for r in records)  # exact inputs: ciphertext only
        assert records[0]["inputs"]["income_band"] == "75000-100000"
        assert log.verify().ok
    assert cli("verify", "--public-key", str(audit_dir / "keys" / "checkpoint_signing.pub.pem")) == 0
