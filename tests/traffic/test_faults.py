"""An upstream outage: the same requests, most of them never arriving."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from mlobs.cli import main
from mlobs.traffic import faults
from mlobs.traffic.runner import Phase, RunConfig, run_traffic


def test_an_outage_phase_sends_only_its_share_of_the_scheduled_requests(scripted_workload):
    sent = {"normal": 0, faults.OUTAGE: 0}

    def handler(request: httpx.Request) -> httpx.Response:
        sent["normal" if b'"normal"' in request.content else faults.OUTAGE] += 1
        return httpx.Response(200, json={"request_id": "r"})

    config = RunConfig(target="http://svc", rate=400.0, duration_s=2.0, seed=5, feedback_rate=0.0, arrivals="fixed")
    outage = faults.Renamed(scripted_workload(scenario=faults.OUTAGE), faults.OUTAGE)
    phases = [Phase(0.0, scripted_workload()), Phase(1.0, outage, faults.OUTAGE_VOLUME)]
    asyncio.run(run_traffic(config, phases, transport=httpx.MockTransport(handler)))
    assert 380 <= sent["normal"] <= 400
    assert 0.5 * faults.OUTAGE_VOLUME * 400 <= sent[faults.OUTAGE] <= 1.5 * faults.OUTAGE_VOLUME * 400


@pytest.mark.integration
def test_any_services_traffic_can_have_an_upstream_outage(fake_sentiment, monkeypatch, capsys):
    from types import SimpleNamespace

    from mlobs import registry
    from mlobs_services.sentiment import workload

    monkeypatch.setattr(registry, "load", lambda name: SimpleNamespace(__name__="s", workload=workload.workload))
    url, fake = fake_sentiment
    code = main(["traffic", "--target", url, "--service", "sentiment", "--rate", "200", "--duration", "1",
                 "--quiet", "--feedback-rate", "0", "--scenario", faults.OUTAGE, "--scenario-delay", "0.5"])
    out = capsys.readouterr().out
    assert code == 0
    counts = dict(part.split(": ") for part in out.split("by scenario: ")[1].splitlines()[0].split("  "))
    assert int(counts[faults.OUTAGE]) < int(counts["normal"]) / 3
