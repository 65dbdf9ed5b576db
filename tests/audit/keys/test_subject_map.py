"""After `forget`, the raw id finds nothing and the subject's records link back to no one."""

from __future__ import annotations

import pytest

from audit.factories import decision
from mlobs.audit import SubjectErased


def test_a_record_carries_a_pseudonym_that_no_keyring_key_derives_from_the_raw_id(log):
    receipt = log.append(decision(1, subject="alice"))
    log.keyring.rotate()
    stored = log.query(decision_id=receipt.decision_id)[0]["subject"]
    assert stored not in log.keyring.all_pseudonyms("alice") and len(stored) == 64


def test_after_forget_the_raw_id_finds_none_of_the_subjects_records_not_even_the_erasure(log):
    for i in range(3):
        log.append(decision(i, subject="alice"))
    bobs = log.append(decision(9, subject="bob"))
    pseudonym = log.query(subject="alice")[0]["subject"]
    erasure = log.forget("alice", actor="dpo")
    assert log.query(subject="alice") == []
    assert [r["decision_id"] for r in log.query(subject="bob")] == [bobs.decision_id]
    record = log.query(decision_id=erasure.decision_id)[0]
    assert record["subject"] == pseudonym and record["details"]["pseudonyms"] == [pseudonym]
    assert record["output"] == {"erased_keys_for": 1}
    assert log.verify().ok


def test_forgetting_a_subject_never_seen_links_nothing_and_erases_nothing(log):
    log.append(decision(1, subject="bob"))
    erasure = log.forget("nobody", actor="dpo")
    record = log.query(decision_id=erasure.decision_id)[0]
    assert record["subject"] is None and record["details"]["pseudonyms"] == []
    assert log.query(subject="nobody") == [] and len(log.query(subject="bob")) == 1


def test_a_subject_mapped_under_an_older_keyring_key_is_still_found_and_forgotten(log):
    before = log.append(decision(1, subject="alice", personal={"name": "A"}))
    log.keyring.rotate()
    after = log.append(decision(2, subject="alice"))
    assert {r["decision_id"] for r in log.query(subject="alice")} == {before.decision_id, after.decision_id}
    log.forget("alice", actor="dpo")
    assert log.query(subject="alice") == []
    with pytest.raises(SubjectErased):
        log.personal(before.decision_id, reason="audit", actor="investigator")


def test_a_decision_queued_just_before_the_erasure_is_erased_with_it(log):
    queued = log.submit(decision(1, subject="alice", personal={"name": "A"}, model_inputs={"income": 1}))
    log.forget("alice", actor="dpo")
    receipt = queued.result(5)
    with pytest.raises(SubjectErased):
        log.personal(receipt.decision_id, reason="audit", actor="investigator")
    assert log.query(subject="alice") == []


def test_a_subject_decided_again_after_erasure_gets_a_new_pseudonym_unlinked_from_the_old(log):
    old = log.append(decision(1, subject="alice"))
    log.forget("alice", actor="dpo")
    new = log.append(decision(2, subject="alice"))
    assert [r["decision_id"] for r in log.query(subject="alice")] == [new.decision_id]
    subjects = {log.query(decision_id=r.decision_id)[0]["subject"] for r in (old, new)}
    assert len(subjects) == 2


def test_exact_model_inputs_are_encrypted_under_the_subject_key(log):
    receipt = log.append(decision(1, subject="alice", model_inputs={"income": 87654.32}))
    record = log.query(decision_id=receipt.decision_id)[0]
    assert set(record["model_inputs"]) == {"nonce", "ct"} and "87654.32" not in str(record)


def test_model_inputs_of_a_decision_about_no_one_are_kept_in_clear(log):
    receipt = log.append(decision(1, subject=None, model_inputs={"x": 1.5}))
    assert log.query(decision_id=receipt.decision_id)[0]["model_inputs"] == {"x": 1.5}
