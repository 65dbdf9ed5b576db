"""The on-call receiver whose journal volume stops answering (an NFS server gone): a real FUSE filesystem
that never answers, over the journal's directory, in front of a real receiver process. Pages are listed at
once and their webhooks answered 500 within the journal timeout (Alertmanager retries them); heartbeats,
probes and scrapes go on; once the volume answers, the retry is journaled and listed once."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
from support.hung_volume import hung_volume
from support.processes import ServiceProcess

from oncall.payloads import alert, message

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TIMEOUT_S = 1.0


def test_a_hung_journal_volume_leaves_pages_listed_heartbeats_taken_and_the_retry_journaled_once_it_answers(tmp_path):
    journal = tmp_path / "journal"
    journal.mkdir()
    env = {"MLOBS_ONCALL__JOURNAL_PATH": str(journal / "pages.jsonl"), "MLOBS_ONCALL__JOURNAL_MAX_BYTES": "1000",
           "MLOBS_ONCALL__JOURNAL_TIMEOUT_S": str(TIMEOUT_S)}
    first, second = message(alert("ModelLatencyHigh")), message(alert("AuditLogUnavailable"))
    with ServiceProcess("oncall", env, tmp_path / "oncall.log") as receiver, \
            httpx.Client(base_url=receiver.url, timeout=TIMEOUT_S + 3) as client:
        assert client.post("/alerts", json=first).status_code == 200

        with hung_volume(journal):  # the next page rotates the journal: a rename under the hung mount
            started = time.monotonic()
            answer = client.post("/alerts", json=second)
            assert answer.status_code == 500 and answer.json()["error"] == "journal_failed"
            assert time.monotonic() - started < TIMEOUT_S + 2
            assert client.post("/heartbeat", json=message(alert("PagingHeartbeat"))).json() == {"heartbeat": True}
            assert client.get("/healthz").status_code == 200
            listed = client.get("/pages", params={"alertname": "AuditLogUnavailable"}).json()["notifications"]
            assert len(listed) == 1
            assert client.post("/alerts", json=second).status_code == 500  # Alertmanager's retry, still hung

        deadline = time.monotonic() + 10
        while client.post("/alerts", json=second).status_code != 200:
            assert time.monotonic() < deadline, receiver.log_tail()
            time.sleep(0.2)
        assert len(client.get("/pages", params={"alertname": "AuditLogUnavailable"}).json()["notifications"]) == 1
    journaled = [orjson.loads(line) for path in (journal / "pages.jsonl", journal / "pages.jsonl.1")
                 if path.exists() for line in path.read_bytes().splitlines()]
    assert [n["alerts"][0]["labels"]["alertname"] for n in journaled].count("AuditLogUnavailable") >= 1
