"""`mlobs investigate --since 15m` at the end of incidents as production Prometheus holds them (a real
Prometheus 2.42 serving backfilled histories): the breach under way before the range starts, a service no
one can scrape, traffic that fell to nothing, a name Prometheus never saw, a name with a quote in it."""

from __future__ import annotations

import time

import pytest
from investigate.incidents import incidents, write

from mlobs.cli import main
from mlobs.investigate.cli import EXIT_CAUSE, EXIT_ERROR
from mlobs.investigate.prometheus import Prometheus
from mlobs.investigate.report import render
from mlobs.investigate.run import investigate
from mlobs.investigate.window import Window
from mlobs.local.prometheus import Prometheus as PrometheusServer

pytestmark = pytest.mark.integration
CASES = incidents()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One Prometheus serving every incident, each its own service: (url, the moment `--since 15m` ends)."""
    root = tmp_path_factory.mktemp("incidents")
    (root / "data").mkdir()
    end = float(int(time.time()) - 600)
    write(list(CASES.values()), end, root / "data")
    with PrometheusServer({"global": {"scrape_interval": "15s"}}, root) as prom:
        yield prom.url, end


def _last_15_minutes(served, case: str, minutes: int = 15):
    url, end = served
    window = Window(end - minutes * 60, end)
    report = investigate(Prometheus(url), CASES[case].service, window)
    return report, window, render(report, "http://grafana", show_queries=False)


@pytest.mark.parametrize("case", ["breach began before the range", "breach at the range's first minute"])
def test_a_breach_under_way_when_the_range_starts_is_found_by_looking_back_and_its_cause_ranked(served, case):
    report, asked, text = _last_15_minutes(served, case)
    assert report.breach is not None and report.breach.signal == "predict-latency", text
    assert report.causes and report.causes[0].key == "serving", text
    assert report.asked_start == asked.start and report.start < asked.start
    onset_minute = 40 if case.startswith("breach began") else 46  # of the hour that ends with the range
    assert abs(report.breach.onset - (asked.end - 3600 + onset_minute * 60)) <= 120
    assert "starts inside the breach or too close to its onset to compare: looked back to" in text


def test_traffic_that_fell_to_nothing_before_the_range_is_a_breach_not_a_quiet_healthy_service(served):
    report, _, text = _last_15_minutes(served, "traffic fell to nothing before the range")
    assert report.breach is not None and report.breach.signal == "request-volume", text
    assert report.causes[0].key == "pipeline"


@pytest.mark.parametrize("case", ["breach recovered before the range", "restart"])
def test_a_breach_over_before_the_range_and_a_restarted_replica_are_no_breach(served, case):
    report, _, text = _last_15_minutes(served, case)
    assert report.breach is None and report.asked_start is None, text
    assert "no breach: no SLO, accuracy or traffic signal got worse in this range" in text


def test_a_service_without_a_single_request_is_not_called_healthy(served):
    report, _, text = _last_15_minutes(served, "no traffic at all")
    assert report.breach is None
    assert "no breach can be seen: the service answered no /predict request in this range" in text
    assert "got worse" not in text


def test_a_service_no_one_has_scraped_since_the_middle_of_the_range_says_so_instead_of_no_breach(served):
    report, asked, text = _last_15_minutes(served, "down since the middle of the range")
    down_since = asked.end - 7 * 60  # minute 53 of the hour
    assert report.breach is not None and report.breach.signal == "scrape", text
    assert abs(report.breach.onset - down_since) <= 15
    assert [(g.start, g.end, g.target) for g in report.unscraped] == [(report.breach.onset, asked.end, "")]
    assert "whether the service still answers cannot be told from its own metrics" in text
    assert report.causes == []


def test_a_scrape_gap_inside_the_range_is_named_with_its_span(served):
    report, asked, text = _last_15_minutes(served, "scrape gap inside the range")
    ((start, end, target),) = [(g.start, g.end, g.target) for g in report.unscraped]
    assert abs(start - (asked.end - 12 * 60)) <= 15 and abs(end - (asked.end - 8 * 60)) <= 15 and target == ""
    assert "not scraped: no target of the service's job was up from" in text and "(4 min)" in text


def test_a_service_that_slowed_then_went_unscraped_is_slow_first_not_a_scrape_artifact(served):
    report, _, text = _last_15_minutes(served, "slowed, then unscraped")
    assert report.breach.signal == "predict-latency"
    assert [f.key for f in report.causes] == ["serving"], text
    assert "too late to explain it" in text


def test_one_replica_of_two_failing_its_scrapes_is_named_and_offered_as_the_reason_traffic_seems_to_fall(served):
    report, asked, text = _last_15_minutes(served, "one of two targets unscraped")
    (gap,) = report.unscraped
    assert (gap.target, gap.targets, gap.end) == ("b:8000", 2, asked.end)
    assert "not scraped: target b:8000 (one of the job's 2) failed its scrapes from" in text
    assert report.breach.signal == "request-volume" and report.causes[0].key == "pipeline"
    assert any(e.text.startswith("1 of the job's 2 targets (b:8000) failed their scrapes from")
               for e in report.causes[0].evidence), text


def test_a_service_prometheus_never_saw_is_an_error_that_lists_the_services_it_has(served, capsys):
    url, end = served
    code = main(["investigate", "--prometheus", url, "--service", "credti", "--since", "15m", "--to", str(end)])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "Prometheus holds no series of service 'credti'" in err and "restart, silent" in err, err


def test_a_service_whose_name_has_a_quote_is_investigated_like_any_other(served, capsys):
    url, end = served
    code = main(["investigate", "--prometheus", url, "--service", 'q"uote', "--since", "15m", "--to", str(end)])
    out = capsys.readouterr()
    assert code == EXIT_CAUSE, out.err
    assert "most likely cause: serving" in out.out



def test_an_slo_burning_through_the_whole_hour_is_a_breach_that_asks_for_an_earlier_start(served):
    report, asked, text = _last_15_minutes(served, "breach began before the hour looked back at")
    assert report.breach is not None and report.breach.signal == "predict-latency" and report.breach.throughout
    assert report.breach.onset == asked.start and report.causes == []
    assert "times the error budget, from" in text and "with no onset in the range" in text
    assert "give --from a time before it began" in text


def test_an_slo_burning_from_the_first_request_says_there_was_nothing_before_to_compare_with(served):
    report, asked, text = _last_15_minutes(served, "slow from the first request")
    assert report.breach is not None and report.breach.throughout
    assert abs(report.breach.onset - (asked.end - 10 * 60)) <= 60
    assert "the service answered no /predict request before" in text


def test_a_five_minute_range_looks_back_an_hour_for_the_onset_or_the_first_request(served):
    report, asked, text = _last_15_minutes(served, "breach began before the range", minutes=5)
    assert report.start == asked.end - 3600 and report.causes[0].key == "serving", text
    report, asked, text = _last_15_minutes(served, "slow from the first request", minutes=5)
    assert report.start == asked.end - 3600 and report.breach.throughout, text
    assert "the service answered no /predict request before" in text
