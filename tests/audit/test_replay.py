from __future__ import annotations

from audit.factories import decision
from mlobs.audit.replay import CANNOT, replay


def test_an_unknown_decision_cannot_be_replayed(log, tmp_path):
    result = replay(log, "f" * 32, tmp_path, actor="auditor")
    assert result.status == CANNOT and "no such decision" in result.why and not result.ok


def test_a_record_that_names_no_artifact_cannot_be_replayed(log, tmp_path):
    receipt = log.append(decision(1))
    assert "names no artifact" in replay(log, receipt.decision_id, tmp_path, actor="auditor").why


def test_a_model_without_a_replayer_cannot_be_replayed(log, tmp_path):
    receipt = log.append(decision(1, artifact_sha256="ab" * 32))
    assert "no replayer for model 'gbm'" in replay(log, receipt.decision_id, tmp_path, actor="auditor").why


def test_an_artifact_not_kept_is_named_and_no_input_is_read(log, tmp_path):
    receipt = log.append(decision(1, model="credit", artifact_sha256="ab" * 32, model_inputs={"x": 1}))
    result = replay(log, receipt.decision_id, tmp_path, actor="auditor")
    assert "is not kept in" in result.why  # no artifact there: nothing decrypted, nothing recorded
    assert log.query(event_type="personal_access") == []
