"""A canary key and a canary personal value go in; no sink may hold either afterwards."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from mlobs.audit import AuditLog
from mlobs.protect.events import audit_listener
from mlobs_services.credit import data
from protect.apps import auth, build, protect_settings

CANARY_KEY = "mlobs_Canary-Key-Zx81Qv"
CANARY_NAME = "Canary-Quetzal-Okonkwo-5521"


def test_no_key_or_personal_value_reaches_logs_spans_metrics_or_security_events(
        settings, sinks, credit_model, tmp_path, caplog):
    row = data.generate(3, seed=5)[0]
    body = {"applicant_id": row["applicant_id"], "personal": {**row["personal"], "name": CANARY_NAME},
            "features": row["features"]}
    app, protection = build("credit", settings, sinks, protect_settings(rate_per_s=1, burst=1))
    audit = AuditLog.open(settings.audit.model_copy(update={
        "store_url": f"sqlite:///{tmp_path / 'a.db'}", "keys_dir": tmp_path / "k",
        "subject_keys_path": tmp_path / "k" / "s.db"}))
    protection.events.subscribe(audit_listener(audit, "credit", app.state.telemetry.model))
    with caplog.at_level(logging.DEBUG), TestClient(app) as client:
        assert client.post("/predict", json=body, headers=auth(CANARY_KEY)).status_code == 401
        assert client.post("/predict", json=body, headers={"x-api-key": CANARY_KEY}).status_code == 401
        assert client.post("/predict", json=body, headers=auth()).status_code == 200
        assert client.post("/predict", json=body, headers=auth()).status_code == 429
        bad = {**body, "personal": {**body["personal"], "email": CANARY_NAME}}
        assert client.post("/predict", json=bad, headers=auth("bob-key-wrong" + CANARY_KEY)).status_code == 401
        metrics_text = client.get("/metrics").text
    app.state.telemetry.flush()
    audit.checkpoint()
    events = str(audit.query(event_type="security"))
    audit.close()
    spans = str([(s.name, dict(s.attributes), [(e.name, dict(e.attributes)) for e in s.events])
                 for s in sinks.spans.get_finished_spans()])
    sinks_text = {
        "json logs": sinks.log_stream.getvalue().decode(),
        "python logging": caplog.text,
        "spans": spans,
        "metrics": generate_latest(sinks.registry).decode() + metrics_text,
        "security events": events,
    }
    assert "auth_failure" in events and "rate_limited" in events  # the sinks did get the events
    for where, text in sinks_text.items():
        for canary in (CANARY_KEY, "Canary-Key", CANARY_NAME, row["personal"]["email"], row["applicant_id"]):
            assert canary not in text, f"{canary!r} leaked into {where}"
