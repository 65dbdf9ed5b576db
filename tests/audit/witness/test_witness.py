"""The witness: cosigns only checkpoints signed by the log's key and consistent with what it saw."""

from __future__ import annotations

from audit.factories import decision
from audit.witness_helpers import TOKEN, log_app, witness_for
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.testclient import TestClient

from mlobs.audit.checkpoint_note import (
    NoteSigner,
    TreeHead,
    open_checkpoint,
    verify_cosignature,
)
from mlobs.audit.keys.signing import load_public_key
from mlobs.audit.witness.store import read_notes


def pub(audit_settings):
    return audit_settings.keys_dir / "checkpoint_signing.pub.pem"


def test_checkpoint_endpoints_refuse_requests_without_the_token(log, store_url):
    log.append(decision(1))
    log.checkpoint()
    client = TestClient(log_app(store_url))
    assert client.get("/audit/checkpoint").status_code == 401
    assert client.get("/audit/checkpoint", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/audit/consistency", params={"from": 1, "to": 1}).status_code == 401
    ok = client.get("/audit/checkpoint", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and open_checkpoint(ok.text, log.signer.public).size == 1
    assert TestClient(log_app(store_url, token=None)).get(
        "/audit/checkpoint", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 403


def test_witness_cosigns_each_larger_consistent_checkpoint_and_keeps_them(log, store_url, audit_settings, tmp_path):
    witness = witness_for(log_app(store_url), pub(audit_settings), tmp_path / "witness")
    for i in range(23):
        log.append(decision(i))
    log.checkpoint()
    assert witness.poll().size == 23
    for i in range(23, 61):
        log.append(decision(i))
    log.checkpoint()
    assert witness.poll().size == 61
    assert witness.poll() is None  # nothing new
    notes = read_notes(tmp_path / "witness")
    assert [open_checkpoint(n, log.signer.public).size for n in notes] == [23, 61]
    wkey = load_public_key(tmp_path / "witness" / "witness_key.pub.pem")
    assert all(verify_cosignature(n, wkey) > 0 for n in notes)


def served(note: str) -> FastAPI:
    app = FastAPI()
    app.get("/audit/checkpoint", response_class=PlainTextResponse)(lambda: note)
    return app


def test_witness_refuses_a_smaller_tree_and_a_second_root_at_one_size(log, store_url, audit_settings, tmp_path):
    witness = witness_for(log_app(store_url), pub(audit_settings), tmp_path / "witness")
    for i in range(30):
        log.append(decision(i))
    log.checkpoint()
    assert witness.poll().size == 30
    # Whoever holds the log's key signs another history: the witness must not follow.
    forger = NoteSigner(log.settings.origin, log.signer.private_key())
    for size, why in ((20, "shrank"), (30, "split view")):
        witness.client = TestClient(served(forger.sign(TreeHead(log.settings.origin, size, bytes(32)))),
                                    base_url="http://log")
        assert witness.poll() is None and why in witness.last_error
    assert witness.refused == 2 and witness.head.size == 30
    assert len(read_notes(tmp_path / "witness")) == 1


def test_witness_refuses_a_checkpoint_signed_by_another_key(log, store_url, audit_settings, tmp_path):
    witness = witness_for(log_app(store_url), pub(audit_settings), tmp_path / "witness")
    other = NoteSigner(log.settings.origin, Ed25519PrivateKey.generate())
    witness.client = TestClient(served(other.sign(TreeHead(log.settings.origin, 5, bytes(32)))), base_url="http://log")
    assert witness.poll() is None and "no signature by the trusted key" in witness.last_error


def test_the_witness_service_serves_what_it_cosigned_and_answers_503_once_the_log_is_unreachable_too_long(
        log, store_url, audit_settings, tmp_path):
    from pydantic import SecretStr

    from mlobs.audit.witness.service import create_app
    from mlobs.audit.witness.settings import WitnessSettings
    from mlobs.local.ports import free_port
    from mlobs.settings import Settings

    settings = Settings(audit_witness=WitnessSettings(
        source_url=f"http://127.0.0.1:{free_port()}", token=SecretStr(TOKEN), log_public_key=pub(audit_settings),
        dir=tmp_path / "w", interval_s=0.05, timeout_s=0.5, stale_after_s=1.2))
    with TestClient(create_app(settings)) as client:
        import time

        first = client.get("/healthz")
        assert first.status_code == 200 and first.json()["ok"] is True  # within the bound since its start
        deadline = time.monotonic() + 15
        while client.get("/healthz").status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        answer = client.get("/healthz")
        health = answer.json()
        assert answer.status_code == 503 and health["ok"] is False and health["refused"] >= 1
        assert "Connect" in health["last_error"] and health["last_success_age_s"] > 1.2
        assert client.get("/livez").status_code == 200  # alive: a restart would not bring the log back
        scraped = scrape(client.get("/metrics").text)
        assert scraped[("mlobs_audit_witness_refusals_total", (("reason", "unreachable"),))] >= 1
        assert scraped[("mlobs_audit_witness_healthy", ())] == 0
        assert client.get("/checkpoints").json() == {"notes": []}
        assert client.get("/checkpoint").status_code == 404
    assert (tmp_path / "w" / "witness_key.pub.pem").exists()


def scrape(text: str) -> dict[tuple, float]:
    """The samples of a /metrics page as Prometheus parses them: (name, sorted labels) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_witness_metrics_count_what_it_cosigned_and_each_refusal_by_its_reason(
        log, store_url, audit_settings, tmp_path):
    from mlobs.audit.witness.catalog import REASONS

    witness = witness_for(log_app(store_url), pub(audit_settings), tmp_path / "witness")
    for i in range(23):
        log.append(decision(i))
    log.checkpoint()
    witness.poll()
    forger = NoteSigner(log.settings.origin, log.signer.private_key())
    witness.client = TestClient(served(forger.sign(TreeHead(log.settings.origin, 23, bytes(32)))),
                                base_url="http://log")
    witness.poll()
    witness.client = TestClient(served("not a note"), base_url="http://log")
    witness.poll()
    from prometheus_client import generate_latest

    scraped = scrape(generate_latest(witness.registry).decode())
    assert scraped[("mlobs_audit_witness_cosigned_total", ())] == 1
    assert scraped[("mlobs_audit_witness_tree_size", ())] == 23
    refusals = {dict(labels)["reason"]: value for (name, labels), value in scraped.items()
                if name == "mlobs_audit_witness_refusals_total"}
    assert refusals == {reason: {"split_view": 1, "invalid": 1}.get(reason, 0) for reason in REASONS}
    assert scraped[("mlobs_audit_witness_healthy", ())] == 1  # refused twice, but within the bound
    volume = (("service", "audit-witness"), ("store", "witness"))  # its history's filesystem, as the log's
    assert 0 < scraped[("mlobs_audit_volume_free_bytes", volume)] < scraped[("mlobs_audit_volume_size_bytes", volume)]


def test_a_witness_is_healthy_again_after_one_round_that_reaches_and_verifies_the_log(
        log, store_url, audit_settings, tmp_path):
    now = [0.0]
    witness = witness_for(log_app(store_url), pub(audit_settings), tmp_path / "witness", clock=lambda: now[0])
    good = witness.client
    witness.client = TestClient(served("not a note"), base_url="http://log")
    now[0] = witness.settings.stale_after_s + 1
    witness.poll()
    assert not witness.healthy()
    witness.client = good
    witness.poll()  # nothing signed yet: the log answered 404, which is no fault
    assert witness.healthy() and witness.last_success_age() == 0


def test_a_stale_bound_no_longer_than_a_slow_round_is_refused_at_start(tmp_path):
    import pytest
    from pydantic import ValidationError

    from mlobs.audit.witness.settings import WitnessSettings

    with pytest.raises(ValidationError, match="must exceed interval_s"):
        WitnessSettings(interval_s=5, timeout_s=10, stale_after_s=25)


def test_the_witness_refuses_to_start_without_its_trust_settings(tmp_path):
    import pytest

    from mlobs.audit.witness.service import Witness
    from mlobs.audit.witness.settings import WitnessSettings

    with pytest.raises(SystemExit, match="LOG_PUBLIC_KEY"):
        Witness(WitnessSettings(source_url="http://log", dir=tmp_path))


def test_a_proof_against_a_witnessed_checkpoint_carries_the_cosignature_check_proof_requires(
        log, store_url, audit_settings, tmp_path):
    import pytest

    from mlobs.audit.checkpoint_note import NoteError
    from mlobs.audit.verification.proofs import check_bundle, make_bundle
    from mlobs.audit.storage.tree_store import open_reader

    witness = witness_for(log_app(store_url), pub(audit_settings), tmp_path / "witness")
    receipts = [log.append(decision(i)) for i in range(9)]
    log.checkpoint()
    witness.poll()
    reader, close = open_reader(store_url)
    try:
        bundle = make_bundle(reader, receipts[4].decision_id, sqlite=store_url.startswith("sqlite"),
                             notes=read_notes(tmp_path / "witness"), public=log.signer.public)
        plain = make_bundle(reader, receipts[4].decision_id, sqlite=store_url.startswith("sqlite"))
    finally:
        close()
    wkey = load_public_key(tmp_path / "witness" / "witness_key.pub.pem")
    assert check_bundle(bundle, log.signer.public, wkey).witnessed_at > 0
    with pytest.raises(NoteError, match="no cosignature"):
        check_bundle(plain, log.signer.public, wkey)
