from __future__ import annotations

import hashlib

import pytest

from mlobs.protect.sketch import Diversity, HyperLogLog


def h(i: int) -> int:
    return int.from_bytes(hashlib.blake2b(str(i).encode(), digest_size=8).digest(), "little")


@pytest.mark.parametrize("n", [10, 1000, 50_000])
def test_the_distinct_count_estimate_is_within_ten_percent(n):
    sketch = HyperLogLog()
    for i in range(n):
        sketch.add(h(i))
        sketch.add(h(i))
    assert sketch.estimate() == pytest.approx(n, rel=0.1)


def test_a_client_repeating_one_input_has_low_diversity_and_a_prober_high():
    clock = lambda: 0.0  # noqa: E731
    repeat, probe = Diversity(600, clock), Diversity(600, clock)
    for i in range(500):
        repeat.add(h(i % 5))
        probe.add(h(i))
    assert repeat.ratio()[0] < 0.05 and probe.ratio()[0] > 0.9


def test_diversity_forgets_inputs_older_than_two_windows():
    now = [0.0]
    d = Diversity(10, lambda: now[0])
    for i in range(100):
        d.add(h(i))
    now[0] = 25.0
    assert d.ratio() == (0.0, 0)
