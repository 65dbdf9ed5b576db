from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from mlobs.traffic.runner import Phase, RunConfig, error_kind, run_traffic
from mlobs.traffic.stats import format_summary


def _run(config: RunConfig, phases, handler):
    return asyncio.run(run_traffic(config, phases, transport=httpx.MockTransport(handler)))


def _config(**overrides) -> RunConfig:
    values = {"target": "http://svc", "rate": 80.0, "duration_s": 0.25, "seed": 3, "feedback_rate": 0.0}
    values.update(overrides)
    return RunConfig(**values)


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"request_id": "r"})


@pytest.mark.slow  # a 1.5 s run at a fixed rate
def test_the_offered_rate_is_respected_over_a_short_run(scripted_workload):
    seen = []

    def handler(request):
        seen.append(request)
        return _ok(request)

    config = _config(rate=40.0, duration_s=1.5, arrivals="poisson")
    stats = _run(config, [Phase(0, scripted_workload())], handler)

    assert 45 <= stats.sent <= 75
    assert len(seen) == stats.sent
    assert stats.skipped == 0


def test_the_summary_counts_each_status_code(scripted_workload):
    codes = {"/ok": 200, "/bad": 400, "/missing": 404, "/broken": 500}
    workload = scripted_workload(paths=("/ok", "/ok", "/bad", "/missing", "/broken"))
    served = {code: 0 for code in codes.values()}

    def handler(request):
        code = codes[request.url.path]
        served[code] += 1
        return httpx.Response(code, json={"request_id": "r"})

    stats = _run(_config(), [Phase(0, workload)], handler)

    assert dict(stats.statuses) == {code: n for code, n in served.items() if n}
    assert set(served) == set(stats.statuses)  # every code was seen
    assert stats.succeeded == served[200]
    assert stats.as_dict()["kinds"]["single"]["statuses"] == dict(sorted(stats.statuses.items()))


def test_the_scenario_switches_after_the_delay(scripted_workload):
    order = []

    def handler(request):
        order.append(json.loads(request.content)["scenario"])
        return _ok(request)

    phases = [Phase(0, scripted_workload(scenario="normal")), Phase(0.2, scripted_workload(scenario="drift"))]
    stats = _run(_config(rate=100.0, duration_s=0.4, arrivals="fixed"), phases, handler)

    switch = order.index("drift")
    assert set(order[:switch]) == {"normal"} and set(order[switch:]) == {"drift"}
    assert switch == 20  # 0.2 s at a fixed 100 req/s
    assert stats.scenarios == {"normal": switch, "drift": len(order) - switch}


def test_feedback_follows_successful_predictions_with_their_request_id(scripted_workload):
    issued, feedback = [], []

    def handler(request):
        if request.url.path == "/feedback":
            feedback.append(json.loads(request.content))
            return httpx.Response(200, json={"outcome": "correct"})
        issued.append(f"id-{len(issued)}")
        return httpx.Response(200, json={"request_id": issued[-1]})

    stats = _run(_config(feedback_rate=1.0), [Phase(0, scripted_workload())], handler)

    assert issued
    assert sorted(f["request_id"] for f in feedback) == sorted(issued)
    assert all(f["label"] == "positive" for f in feedback)
    assert stats.feedback_sent == len(issued)
    assert stats.sent == len(issued)


def test_no_feedback_is_sent_for_failed_predictions_or_at_rate_zero(scripted_workload):
    paths = []

    def handler(request):
        paths.append(request.url.path)
        return httpx.Response(200 if request.url.path == "/ok" else 422, json={"request_id": "r"})

    _run(_config(feedback_rate=1.0), [Phase(0, scripted_workload(paths=("/reject",)))], handler)
    _run(_config(feedback_rate=0.0), [Phase(0, scripted_workload(paths=("/ok",)))], handler)

    assert paths and "/feedback" not in paths


def test_requests_due_while_all_slots_are_busy_are_skipped_not_delayed(scripted_workload):
    in_flight = peak = 0

    async def slow(request):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.3)
        in_flight -= 1
        return _ok(request)

    config = _config(rate=100.0, duration_s=0.3, arrivals="fixed", concurrency=2)
    stats = _run(config, [Phase(0, scripted_workload())], slow)

    assert peak <= 2
    assert stats.skipped > 10
    assert stats.sent + stats.skipped == 30  # every scheduled arrival is accounted for


def test_requests_this_client_is_too_busy_to_send_on_time_are_counted_as_behind(scripted_workload):
    class Sluggish(scripted_workload):
        def next_request(self, rng):
            time.sleep(0.05)  # stands in for a client whose CPU cannot keep up
            return super().next_request(rng)

    config = _config(rate=100.0, duration_s=0.5, arrivals="fixed")
    stats = _run(config, [Phase(0, Sluggish())], _ok)

    assert stats.behind > 0 and stats.sent > 0
    assert stats.sent + stats.skipped + stats.behind == 50
    assert "behind schedule" in format_summary(stats, config.rate)


def test_connection_errors_and_timeouts_are_counted_by_kind(scripted_workload):
    def handler(request):
        if request.url.path == "/down":
            raise httpx.ConnectError("refused", request=request)
        raise httpx.ReadTimeout("slow", request=request)

    stats = _run(_config(), [Phase(0, scripted_workload(paths=("/down", "/slow")))], handler)

    assert set(stats.errors) == {"connect_error", "timeout"}
    assert sum(stats.errors.values()) == stats.sent
    assert stats.succeeded == 0


def test_the_run_stops_by_itself_when_the_server_never_answers(scripted_workload):
    async def hang(request):
        await asyncio.Event().wait()

    config = _config(duration_s=0.2, timeout_s=0.1, drain_grace_s=0.05)
    stats = _run(config, [Phase(0, scripted_workload())], hang)

    assert stats.sent > 0
    assert stats.errors == {"timeout": stats.sent}  # each ends at its own timeout, however the transport waits


def test_error_kinds_have_stable_names():
    request = httpx.Request("GET", "http://svc")
    assert error_kind(httpx.ConnectTimeout("t", request=request)) == "timeout"
    assert error_kind(httpx.ConnectError("c", request=request)) == "connect_error"
    assert error_kind(httpx.RemoteProtocolError("p", request=request)) == "protocol_error"
    assert error_kind(RuntimeError("x")) == "RuntimeError"


@pytest.mark.parametrize(
    "overrides", [{"rate": 0}, {"duration_s": -1}, {"concurrency": 0}, {"feedback_rate": 1.5}, {"arrivals": "burst"}]
)
def test_an_impossible_config_is_refused(overrides):
    with pytest.raises(ValueError):
        _config(**overrides)
