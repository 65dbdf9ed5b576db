from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

import pytest

from audit.factories import decision
from mlobs.audit import AccessRefused, SubjectErased

CANARY = "CANARY-7f3a-Jane-Doe"


def test_appended_record_is_found_by_every_query_field(log):
    receipt = log.append(decision(3, subject="alice", trace_id="t-abc", model_version="7"))
    for query in ({"subject": "alice"}, {"decision_id": receipt.decision_id}, {"trace_id": "t-abc"},
                  {"model_version": "7"}, {"outcome": "deny"},
                  {"since": "2025-12-31T00:00:00Z", "until": "2026-01-02"}):
        found = log.query(**query)
        assert [r["decision_id"] for r in found] == [receipt.decision_id], query


def test_time_range_excludes_records_outside_it(log, clock):
    log.append(decision(1))
    clock.advance(days=2)
    late = log.append(decision(2))
    assert [r["decision_id"] for r in log.query(since=clock.now)] == [late.decision_id]


def test_subject_is_stored_only_as_a_keyed_pseudonym(log):
    log.append(decision(1, subject="alice"))
    record = log.query(subject="alice")[0]
    assert record["subject"] != "alice" and len(record["subject"]) == 64 and record["subject_key_id"] == "k1"


def test_records_from_before_a_key_rotation_are_still_found_by_raw_subject(log):
    before = log.append(decision(1, subject="alice"))
    log.keyring.rotate()
    after = log.append(decision(2, subject="alice"))
    found = log.query(subject="alice")
    assert [r["decision_id"] for r in found] == [before.decision_id, after.decision_id]
    assert [r["subject_key_id"] for r in found] == ["k1", "k2"]


def test_personal_inputs_are_encrypted_and_readable_with_a_reason(log):
    receipt = log.append(decision(1, personal={"name": CANARY}))
    assert CANARY not in str(log.query(decision_id=receipt.decision_id))
    assert log.personal(receipt.decision_id, reason="complaint 42", actor="investigator") == {"name": CANARY}
    access = log.query(event_type="personal_access")
    assert access[0]["details"] == {"actor": "investigator", "reason": "complaint 42",
                                    "target_decision_id": receipt.decision_id}


def test_forget_makes_personal_data_unreadable_and_the_chain_still_verifies(log):
    gone = log.append(decision(1, subject="alice", personal={"name": CANARY}, raw={"name": CANARY}))
    kept = log.append(decision(2, subject="bob", personal={"name": "Bob"}))
    erasure = log.forget("alice", actor="dpo")
    with pytest.raises(SubjectErased):
        log.personal(gone.decision_id, reason="audit", actor="investigator")
    assert log.read_raw(gone.decision_id, reason="debug", actor="dev") is None
    assert log.personal(kept.decision_id, reason="audit", actor="investigator") == {"name": "Bob"}
    record = log.query(decision_id=erasure.decision_id)[0]
    assert record["event_type"] == "erasure" and record["details"]["actor"] == "dpo"
    assert log.verify().ok


def test_forget_deletes_the_subjects_raw_payloads_and_no_one_elses(log):
    alices = log.append(decision(1, subject="alice", raw={"body": "a"}))
    bobs = log.append(decision(2, subject="bob", raw={"body": "b"}))
    assert log.store.raw_get(alices.seq) is not None
    log.forget("alice", actor="dpo")
    assert log.store.raw_get(alices.seq) is None and log.store.raw_get(bobs.seq) is not None


def test_a_subject_decided_again_after_erasure_gets_a_fresh_readable_key(log):
    log.append(decision(1, subject="alice"))
    log.forget("alice", actor="dpo")
    again = log.append(decision(2, subject="alice", personal={"name": "new"}))
    assert log.personal(again.decision_id, reason="audit", actor="x") == {"name": "new"}


def test_raw_read_without_a_reason_is_refused_and_not_served(log):
    receipt = log.append(decision(1, raw={"body": CANARY}))
    for reason in ("", "   ", None):
        with pytest.raises(AccessRefused):
            log.read_raw(receipt.decision_id, reason=reason, actor="dev")
    assert log.query(event_type="raw_access") == []


def test_raw_read_with_a_reason_is_recorded(log):
    receipt = log.append(decision(1, raw={"body": CANARY}))
    assert log.read_raw(receipt.decision_id, reason="ticket 9", actor="dev") == {"body": CANARY}
    access = log.query(event_type="raw_access")
    assert len(access) == 1 and access[0]["details"]["reason"] == "ticket 9" and access[0]["details"]["actor"] == "dev"
    assert access[0]["subject"] == log.query(decision_id=receipt.decision_id)[0]["subject"]


def test_raw_store_forgets_after_its_retention(log, clock):
    receipt = log.append(decision(1, raw={"body": "x"}))
    clock.advance(days=6)
    assert log.purge() == 0
    assert log.read_raw(receipt.decision_id, reason="r", actor="a") == {"body": "x"}
    clock.advance(days=1, seconds=1)
    assert log.read_raw(receipt.decision_id, reason="r", actor="a") is None
    assert log.purge() == 1
    assert log.store.raw_get(receipt.seq) is None


def test_async_append_shares_the_writer_and_returns_receipts(log):
    async def many():
        return await asyncio.gather(*(log.append_async(decision(i, subject=f"s{i}")) for i in range(200)))

    receipts = asyncio.run(many())
    assert sorted(r.seq for r in receipts) == list(range(1, 201))
    assert log.verify().ok


def test_canary_never_reaches_logging_or_the_long_term_log(log, caplog, audit_settings, backend):
    caplog.set_level(logging.DEBUG)
    receipt = log.append(decision(1, subject=CANARY, personal={"name": CANARY}, raw={"name": CANARY}))
    log.read_raw(receipt.decision_id, reason="r", actor="a")
    log.forget(CANARY, actor="dpo")
    log.close()
    assert CANARY not in caplog.text
    if backend == "sqlite":
        path = audit_settings.store_url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path)
        dump = "\n".join(conn.iterdump())
        conn.close()
        assert CANARY not in dump


def test_erasure_in_the_same_batch_keeps_later_raw_payloads(log):
    futures = [log.submit(decision(1, subject="alice", raw={"n": 1}))]
    log.forget("alice", actor="dpo")  # queued behind the first, possibly in its batch
    after = log.append(decision(2, subject="alice", raw={"n": 2}))
    assert log.read_raw(futures[0].result(5).decision_id, reason="r", actor="a") is None
    assert log.read_raw(after.decision_id, reason="r", actor="a") == {"n": 2}


def test_non_string_header_fields_are_refused_before_queueing(log):
    with pytest.raises(TypeError, match="model_version"):
        log.submit(decision(1, model_version=3))
    assert log.stats()["pending"] == 0


def test_personal_data_stays_readable_and_erasable_once_its_key_has_moved(make_log, audit_settings):
    log = make_log(subject_keys_merge_at=1)
    alices = log.append(decision(1, subject="alice", personal={"name": "Alice"}))
    bobs = log.append(decision(2, subject="bob", personal={"name": "Bob"}))
    for i, subject in enumerate(("carol", "dan", "erin")):  # more keys than the new key store has pages
        log.append(decision(3 + i, subject=subject))
    alice, bob = (log.query(decision_id=r.decision_id)[0]["subject"] for r in (alices, bobs))
    deadline = time.monotonic() + 10
    while alice not in _sorted_keys(audit_settings.subject_keys_path) and time.monotonic() < deadline:
        time.sleep(0.01)  # the key store's own thread moves them
    assert {alice, bob} <= _sorted_keys(audit_settings.subject_keys_path)
    log.forget("alice", actor="dpo")
    with pytest.raises(SubjectErased):
        log.personal(alices.decision_id, reason="audit", actor="investigator")
    assert log.personal(bobs.decision_id, reason="audit", actor="investigator") == {"name": "Bob"}


def _sorted_keys(path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {p for (p,) in conn.execute("SELECT pseudonym FROM subject_keys")}
