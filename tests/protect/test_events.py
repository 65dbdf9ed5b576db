from __future__ import annotations

from fastapi.testclient import TestClient

from mlobs.audit import AuditLog
from mlobs.protect.events import AUDIT_EVENT_TYPE, SecurityEvents, audit_listener
from protect.apps import auth, build, protect_settings

TEXT = {"text": "great value"}


def audit_settings(settings, tmp_path):
    return settings.audit.model_copy(update={
        "enabled": True, "store_url": f"sqlite:///{tmp_path / 'audit.db'}", "keys_dir": tmp_path / "keys",
        "subject_keys_path": tmp_path / "keys" / "subject_keys.db"})


def test_an_auth_failure_is_recorded_in_the_audit_log_without_the_key(settings, sinks, sentiment_model, tmp_path):
    app, protection = build("sentiment", settings, sinks)
    log = AuditLog.open(audit_settings(settings, tmp_path))
    protection.events.subscribe(audit_listener(log, "sentiment", app.state.telemetry.model))
    with TestClient(app) as client:
        client.post("/predict", json=TEXT, headers=auth("Canary-Key-77QX"))
    log.checkpoint()  # waits for the writer: everything submitted before is durable
    records = log.query(event_type=AUDIT_EVENT_TYPE)
    log.close()
    assert [r["outcome"] for r in records] == ["auth_failure"]
    assert records[0]["details"]["reason"] == "invalid" and records[0]["details"]["path"] == "/predict"
    assert "Canary-Key-77QX" not in str(records)
    assert sinks.sample("mlobs_security_events_total",
                        {"service": "sentiment", "kind": "auth_failure", "audited": "true"}) == 1


def test_events_over_the_budget_are_counted_but_not_sent_to_the_sinks():
    sent, counts = [], {}

    class Counter:
        def __init__(self, key):
            self.key = key

        def inc(self):
            counts[self.key] = counts.get(self.key, 0) + 1

    events = SecurityEvents(per_s=3, counter=lambda k, a: Counter((k, a)), clock=lambda: 0.0)
    events.subscribe(lambda e: sent.append(e) or True)
    for _ in range(10):
        events.emit("auth_failure", reason="invalid")
    assert len(sent) == 3
    assert counts == {("auth_failure", "true"): 3, ("auth_failure", "false"): 7}


def test_a_failing_sink_does_not_turn_a_401_into_an_error(settings, sinks, sentiment_model):
    no_audit = settings.model_copy(update={"audit": settings.audit.model_copy(update={"enabled": False})})
    app, protection = build("sentiment", no_audit, sinks, protect_settings())  # the broken sink is the only one

    def broken(event):
        raise RuntimeError("audit store down")

    protection.events.subscribe(broken)
    with TestClient(app) as client:
        assert client.post("/predict", json=TEXT).status_code == 401
    assert sinks.sample("mlobs_security_events_total",
                        {"service": "sentiment", "kind": "auth_failure", "audited": "false"}) == 1
