from __future__ import annotations

import math

from mlobs.traffic.stats import Stats, format_summary, percentile


def test_percentile_uses_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 90) == 7.0
    assert math.isnan(percentile([], 50))


def _sample() -> Stats:
    stats = Stats(elapsed_s=2.0, skipped=3)
    for latency in (0.010, 0.020, 0.030):
        stats.record_response("single", 200, latency)
    stats.record_response("bad:empty-text", 422, 0.005)
    stats.record_error("single", "timeout")
    stats.record_response("feedback", 200, 0.002)
    stats.record_response("feedback", 404, 0.002)
    return stats


def test_feedback_is_counted_apart_from_scheduled_requests():
    stats = _sample()
    assert stats.sent == 5
    assert stats.feedback_sent == 2
    assert stats.achieved_rate() == 2.5
    assert stats.succeeded == 4


def test_counts_are_kept_by_status_and_error_kind():
    d = _sample().as_dict()
    assert d["statuses"] == {200: 4, 404: 1, 422: 1}
    assert d["errors"] == {"timeout": 1}
    assert d["kinds"]["single"]["sent"] == 4
    assert d["latency_ms"]["max"] == 30.0  # feedback latencies are not the requests' latencies


def test_the_summary_shows_counts_rate_and_latency():
    text = format_summary(_sample(), rate=3.0)
    assert "requests sent: 5" in text
    assert "achieved 2.5 req/s" in text
    assert "200: 4" in text and "422: 1" in text
    assert "timeout: 1" in text
    assert "skipped (concurrency limit reached, not sent): 3" in text
    assert "p50 10.0" in text and "max 30.0" in text  # over 5, 10, 20, 30 ms


def test_an_empty_run_still_has_a_summary():
    text = format_summary(Stats(), rate=1.0)
    assert "requests sent: 0" in text
    assert "by status: none" in text
