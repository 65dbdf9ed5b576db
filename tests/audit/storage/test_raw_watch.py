"""The raw store's retention, watched from outside the purge: the age of the oldest raw payload held
keeps growing when purges are off, fail or stall, and drops once one runs."""

from __future__ import annotations

import math
import time

import pytest

from audit.factories import decision
from mlobs.audit.storage import raw_store

DAY = 86400


def eventually(check, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the watch never saw it"
        time.sleep(0.02)


@pytest.fixture
def watched(make_log, clock):
    """A log purged by nobody in this process (as when a job elsewhere runs `mlobs audit purge`)."""
    log = make_log(raw_purge_interval_s=0)
    watches = []

    def watch(**kwargs) -> raw_store.Purger:
        watches.append(raw_store.Purger(log, look_s=0.02, **kwargs))
        return watches[-1]
    yield log, watch
    for w in watches:
        w.stop()


def test_nothing_watches_a_log_no_service_opened_for_purging(log):
    assert math.isnan(log.raw_oldest_age_s())


def test_the_age_grows_while_nothing_purges_and_drops_once_a_purge_runs_elsewhere(watched, clock):
    log, watch = watched
    log.append(decision(1, raw={"body": "x"}))
    w = watch(every_s=0)
    clock.advance(seconds=1)
    eventually(lambda: w.oldest_age_s(clock.now) == 1)
    clock.advance(days=8)
    assert w.oldest_age_s(clock.now) == 8 * DAY + 1  # no store read needed to see it grow
    assert log.purge() == 1
    eventually(lambda: w.oldest_age_s(clock.now) == 0)


def test_a_purge_that_keeps_failing_leaves_the_age_growing_past_retention(watched, clock, monkeypatch):
    log, watch = watched
    log.append(decision(1, raw={"body": "x"}))

    def full_disk(before_ts, limit):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(log.store, "raw_expired", full_disk)
    clock.advance(days=9)
    w = watch(every_s=0.02, first_s=0)
    eventually(lambda: w.oldest_age_s(clock.now) == 9 * DAY)
    time.sleep(0.2)  # several failed rounds
    assert w.oldest_age_s(clock.now) == 9 * DAY
    assert not log.query(event_type="raw_purge")


def test_a_service_that_never_purges_still_exports_the_age(make_log, clock):
    log = make_log(raw_purge_interval_s=0)
    log.append(decision(1, raw={"body": "x"}))
    log.start_purging()
    clock.advance(days=2)
    eventually(lambda: log.raw_oldest_age_s() == 2 * DAY)


def test_a_watch_that_saw_nothing_held_and_stopped_looking_shows_an_age_that_grows(watched, clock):
    log, watch = watched
    w = watch(every_s=0)
    eventually(lambda: w._looked_at is not None)
    w.stop()  # stalled: it looks no more
    log.append(decision(1, raw={"body": "x"}))
    clock.advance(days=8)
    assert w.oldest_age_s(clock.now) == 8 * DAY


def test_a_store_that_cannot_be_read_from_the_start_shows_an_age_growing_from_then(watched, clock, monkeypatch):
    """A watch that never read the store knows nothing held is young: 0 would read as "nothing held"."""
    log, watch = watched
    log.append(decision(1, raw={"body": "x"}))

    def locked():
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(log.store, "raw_oldest_ts", locked)
    w = watch(every_s=0)
    time.sleep(0.1)  # several failed looks
    clock.advance(days=8)
    assert w.oldest_age_s(clock.now) == 8 * DAY


def test_a_store_that_fails_now_and_then_keeps_the_age_of_the_oldest_payload_it_last_saw(watched, clock, monkeypatch):
    log, watch = watched
    log.append(decision(1, raw={"body": "x"}))
    read = log.store.raw_oldest_ts
    looks = []

    def flaky():
        looks.append(1)
        if len(looks) % 2 == 0:
            raise OSError(5, "Input/output error")
        return read()
    monkeypatch.setattr(log.store, "raw_oldest_ts", flaky)
    w = watch(every_s=0)
    clock.advance(days=1)
    eventually(lambda: len(looks) >= 6)
    assert w.oldest_age_s(clock.now) == DAY
