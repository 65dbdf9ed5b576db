from __future__ import annotations

from mlobs.protect.limits import ClientLimits, TokenBucket


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_bucket_gives_its_burst_then_one_token_per_interval():
    bucket = TokenBucket(rate=2, burst=3, now=0)
    assert [bucket.take(0) for _ in range(3)] == [0, 0, 0]
    assert bucket.take(0) == 0.5
    assert bucket.take(0.5) == 0


def test_a_client_over_its_rate_is_told_when_to_retry_and_others_are_unaffected():
    clock = Clock()
    limits = ClientLimits(rate=0.5, burst=1, max_concurrency=10, clock=clock)
    assert limits.admit("a") == (None, 0)
    assert limits.admit("a") == ("rate", 2)
    assert limits.admit("b") == (None, 0)


def test_a_client_at_its_concurrency_cap_is_refused_until_a_request_finishes():
    limits = ClientLimits(rate=1000, burst=1000, max_concurrency=2, clock=Clock())
    assert limits.admit("a")[0] is None and limits.admit("a")[0] is None
    assert limits.admit("a") == ("concurrency", 1)
    limits.release("a")
    assert limits.admit("a")[0] is None and limits.in_flight("a") == 2
