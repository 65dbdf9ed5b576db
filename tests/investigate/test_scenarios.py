"""Each injected cause, over a history served by a real Prometheus, comes out first; a clean run finds none."""

import json
import subprocess
import sys

import pytest
from investigate.histories import MINUTES

from mlobs.investigate.prometheus import Prometheus
from mlobs.investigate.run import investigate
from mlobs.investigate.window import Window

pytestmark = pytest.mark.integration
CASES = [f"{base}: {scenario}" for base in ("credit", "vision") for scenario in (
    "clean", "upstream outage drops a field", "input drift", "class-prior shift", "bad model version",
    "latency fault", "input drift after the service started")] + [
    "credit: class-prior shift the model is less sure of", "credit: audit log volume full"]


def _window(history):
    return Window(history.start, history.start + (MINUTES + 5) * 60)


@pytest.mark.parametrize("case", CASES)
def test_the_injected_cause_is_ranked_first_and_a_clean_history_has_none(backfilled, case):
    prom, cases = backfilled
    history, expected = cases[case]
    report = investigate(Prometheus(prom.url), history.service, _window(history))
    if expected is None:
        assert report.breach is None and report.causes == []
        return
    assert report.causes, report
    assert report.causes[0].key == expected, [(f.key, f.score) for f in report.findings]
    # The onset is found within a few minutes of the injection (rate() smears it over its range).
    assert abs(report.breach.onset - history.onset) <= 5 * 60
    if case.endswith("audit log volume full"):  # the 503s named for what they are
        assert any(e.text.startswith("the audit log refused 30.0% of decisions") for e in report.causes[0].evidence)
    if expected == "model_version":  # the new version's cost beside the old one's
        costs = next(e.text for e in report.causes[0].evidence if e.text.startswith("inference CPU per prediction"))
        assert "v1 0.50 ms" in costs and "v2 0.65 ms" in costs, costs


def test_the_command_answers_json_and_exits_0_on_a_cause_and_1_on_a_clean_run(backfilled):
    prom, cases = backfilled
    codes = {}
    for case in ("credit: bad model version", "credit: clean"):
        history, _ = cases[case]
        window = _window(history)
        run = subprocess.run(
            [sys.executable, "-m", "mlobs.cli", "investigate", "--prometheus", prom.url, "--service", history.service,
             "--from", str(window.start), "--to", str(window.end), "--json"], capture_output=True, text=True)
        codes[case] = run.returncode
        body = json.loads(run.stdout)
        assert body["service"] == history.service
        if case.endswith("version"):
            assert body["causes"][0] == "model_version"
            assert all("promql" in ev for f in body["findings"] for ev in f["evidence"])
    assert codes == {"credit: bad model version": 0, "credit: clean": 1}


def test_the_report_leads_with_the_cause_and_shows_the_promql_and_a_dashboard_link(backfilled):
    prom, cases = backfilled
    history, _ = cases["vision: latency fault"]
    window = _window(history)
    run = subprocess.run(
        [sys.executable, "-m", "mlobs.cli", "investigate", "--prometheus", prom.url, "--service", history.service,
         "--from", str(window.start), "--to", str(window.end), "--grafana", "http://grafana.example:3000"],
        capture_output=True, text=True)
    lines = run.stdout.splitlines()
    assert run.returncode == 0
    assert lines[1].startswith("breach (predict-latency)")
    cause = next(i for i, line in enumerate(lines) if line.startswith("most likely cause:"))
    assert "serving" in lines[cause]
    assert any("PromQL: histogram_quantile(0.99" in line for line in lines[cause:])
    assert any(f"http://grafana.example:3000/d/mlobs-service-overview?from={int(window.start * 1000)}" in line
               for line in lines[cause:])


def test_an_unreachable_prometheus_is_a_clear_error_with_status_2():
    run = subprocess.run([sys.executable, "-m", "mlobs.cli", "investigate", "--prometheus", "http://127.0.0.1:9",
                          "--service", "credit", "--since", "1h"], capture_output=True, text=True)
    assert run.returncode == 2
    assert "cannot reach Prometheus at http://127.0.0.1:9" in run.stderr
