import pytest

from mlobs.investigate.window import MAX_POINTS, Window, parse_duration, parse_time, resolve


def test_since_counts_back_from_the_end_or_from_now():
    assert resolve("2h", None, None, now=10_000) == Window(10_000 - 7200, 10_000)
    assert resolve("30m", None, "2026-12-04T10:00:00Z", now=0).end == parse_time("2026-12-04T10:00:00+00:00")


def test_an_iso_time_without_an_offset_is_utc_and_unix_seconds_pass_through():
    assert parse_time("1970-01-01T01:00:00") == 3600
    assert parse_time("1796400000.5") == 1796400000.5


def test_the_grid_never_exceeds_its_point_budget_and_never_falls_under_15_s():
    assert Window(0, 86400).step == 86400 / MAX_POINTS
    assert Window(0, 600).step == 15.0
    assert Window(0, 600).rate_window == "60s"


@pytest.mark.parametrize("bad", ["2 hours", "h2", "", "-1h"])
def test_a_bad_duration_says_what_to_write(bad):
    with pytest.raises(ValueError, match="use e.g. 30m, 2h, 1d"):
        parse_duration(bad)


def test_a_range_shorter_than_five_minutes_is_refused():
    with pytest.raises(ValueError, match="at least 5 minutes"):
        resolve("1m", None, None, now=1000)
    with pytest.raises(ValueError, match="not a time"):
        resolve(None, "yesterday", None)
