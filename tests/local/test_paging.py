"""`make local` with its defaults pages: the drift shift reaches the on-call receiver and the terminal says so
(its run on a real native stack: `support.native_stack.pages_by_itself`, beside the acceptance check
in `tests/acceptance/test_against_local.py`)."""

from __future__ import annotations

import httpx

from mlobs.local.__main__ import parse
from mlobs.local.pages import PageWatch
from mlobs.local.stack import ONCALL, Options, alertmanager_config
from mlobs.stackgen import config


def test_alertmanager_in_the_native_run_sends_to_the_receivers_loopback_port_from_the_ports_base(tmp_path):
    options = Options(workdir=tmp_path, artifacts_dir=tmp_path, ports_base=21000)
    receiver = f"http://127.0.0.1:{options.port(ONCALL)}"
    am = alertmanager_config(receiver, "10s")
    urls = [w["url"] for r in am["receivers"] for w in r.get("webhook_configs", [])]
    base = "http://127.0.0.1:21095"
    assert urls and all(u.startswith(f"{base}{config.ONCALL_PATH}") or u == f"{base}{config.HEARTBEAT_PATH}"
                        for u in urls)
    assert f"{base}{config.HEARTBEAT_PATH}" in urls


def test_the_default_run_never_ends_before_the_shift_and_its_drift_page_window_is_shorter_than_production():
    args = parse([])
    assert args.duration == 0  # until Ctrl-C
    assert args.drift_page_window == "3m" and args.scenario_delay < 600


def test_the_watch_tells_each_firing_drift_page_once_with_seconds_since_the_shift(monkeypatch):
    note = {"received_at": 1130.0, "alerts": [
        {"status": "firing", "fingerprint": "f1", "startsAt": "t",
         "labels": {"alertname": "EstimatedAccuracyDrop", "model": "vision", "model_version": "v1"}}]}

    class Reply:
        def json(self):
            return {"notifications": [note, note]}

    monkeypatch.setattr(httpx, "get", lambda *a, **k: Reply())
    watch = PageWatch("http://127.0.0.1:1", shift_at=1000.0, every=0)
    lines = watch.poll()
    assert len(lines) == 1 and "vision v1" in lines[0] and "130 s after the shift" in lines[0]
    assert watch.poll() == [] and watch.first_page_after == 130.0


def test_the_watch_stays_quiet_when_the_receiver_does_not_answer():
    assert PageWatch("http://127.0.0.1:9", shift_at=None, every=0).poll() == []
