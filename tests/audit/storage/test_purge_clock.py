"""A running purge against a wall clock that steps: a step forward purges nothing early, a step back
hides no payload kept late, and the gap is there for an alert."""

from __future__ import annotations

from datetime import timedelta

import pytest

from audit.factories import decision
from mlobs.audit.record import format_ts
from mlobs.audit.storage import raw_store

DAY = 86400
YEAR = 365 * DAY


class Monotonic:
    """Real time elapsed, moved by hand: what no one can step."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def purger(make_log):
    """A log's purge thread (its schedule off: each test runs a round itself) on a hand-moved monotonic."""
    log = make_log(raw_purge_interval_s=0)
    elapsed = Monotonic()
    started = []

    def start() -> raw_store.Purger:
        started.append(raw_store.Purger(log, every_s=0, monotonic=elapsed))
        return started[-1]
    yield log, elapsed, start
    for p in started:
        p.stop()


def test_a_wall_clock_stepped_a_year_ahead_purges_no_payload_still_within_its_retention(purger, clock):
    log, elapsed, start = purger
    receipt = log.append(decision(1, raw={"body": "x"}))
    p = start()
    clock.advance(days=365)
    elapsed.now += 3600  # an hour really went by
    assert p.clock.step_s() == pytest.approx(YEAR - 3600)
    assert p.purge() == 0
    assert log.store.raw_get(receipt.seq) is not None
    assert not log.query(event_type="raw_purge")


def test_after_a_step_ahead_payloads_past_their_retention_in_real_time_are_still_purged(purger, clock):
    log, elapsed, start = purger
    old = log.append(decision(1, raw={"body": "old"}))
    clock.advance(days=2)
    young = log.append(decision(2, raw={"body": "young"}))
    p = start()
    clock.advance(days=365)
    elapsed.now += 6 * DAY  # the first is 8 days old, the second 6
    assert p.purge() == 1
    assert log.store.raw_get(old.seq) is None and log.store.raw_get(young.seq) is not None
    purged = log.query(event_type="raw_purge")[0]
    assert purged["details"]["first_seq"] == old.seq
    assert purged["ts"] == format_ts(clock.now)  # a record among its neighbours; the cutoff is in its details
    assert purged["details"]["recorded_before"] == format_ts(clock.now - timedelta(days=365 + 1))


def test_a_wall_clock_stepped_a_year_back_cannot_hide_a_payload_kept_past_its_retention(purger, clock):
    log, elapsed, start = purger
    log.append(decision(1, raw={"body": "x"}))
    p = start()
    clock.advance(days=-365)
    elapsed.now += 8 * DAY
    assert p.clock.step_s() == pytest.approx(-YEAR - 8 * DAY)
    # By the stepped-back clock the payload was recorded a year from now: an age of 0, and no alert.
    assert p.oldest_age_s(p.clock.age_now()) == pytest.approx(8 * DAY)


def test_clocks_that_agree_leave_the_purge_on_the_wall_clock(purger, clock):
    log, elapsed, start = purger
    log.append(decision(1, raw={"body": "x"}))
    p = start()
    clock.advance(days=8, seconds=-30)
    elapsed.now += 8 * DAY  # the wall clock half a minute behind: slewing, not a step
    assert p.clock.purge_now() == clock.now
    assert p.purge() == 1


def test_the_log_exports_the_step_only_while_it_purges(make_log, clock):
    log = make_log(raw_purge_interval_s=0)
    assert log.clock_step_s() != log.clock_step_s()  # NaN: nothing watches the clock
    log.start_purging()
    clock.advance(days=-1)
    assert log.clock_step_s() == pytest.approx(-DAY, abs=60)


def test_a_wall_clock_stepped_back_a_year_serves_no_payload_past_its_retention(make_log, clock):
    log = make_log(raw_purge_interval_s=0)
    receipt = log.append(decision(1, raw={"body": "x"}))
    clock.advance(days=8)  # past its retention when the service starts
    log.start_purging()
    clock.advance(days=-365)  # by the stepped-back clock it was recorded a year from now
    assert log.read_raw(receipt.decision_id, reason="dispute", actor="analyst") is None
    assert log.query(event_type="raw_access")[-1]["output"] == {"found": False, "why": "expired"}
