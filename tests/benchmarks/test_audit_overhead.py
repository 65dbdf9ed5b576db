"""The audit endpoint benchmark's table: with services restarted every K cycles, each ratio's interval
is taken over blocks (one process of each service), so the spread between processes shows in it."""

from __future__ import annotations

import re

from audit_overhead import blocks_of, by_block, table

OFF, ON = "audit off", "audit on"


def _results(on_cpu: list[float]) -> dict[str, dict]:
    def variant(cpu: list[float]) -> dict:
        return {"cpu_us": cpu, "rps": [1e6 / us for us in cpu], "lat": [0.001, 0.002], "load_p50": [0.015],
                "load_p99": [0.02]}

    return {OFF: variant([500.0] * len(on_cpu)), ON: variant(on_cpu)}


def _cpu_interval(text: str) -> tuple[float, float]:
    row = next(line for line in text.splitlines() if line.startswith(f"| {ON} |"))
    low, high = re.search(r"\(([\d.]+) to ([\d.]+)\)", row).groups()
    return float(low), float(high)


def test_cycles_fall_into_blocks_of_k_and_each_is_its_own_block_when_nothing_restarts():
    assert blocks_of(6, 2) == [0, 0, 1, 1, 2, 2]
    assert blocks_of(5, 2) == [0, 0, 1, 1, 2]
    assert blocks_of(3, 0) == [0, 1, 2]
    assert by_block([1.0, 2.0, 3.0, 4.0, 5.0], blocks_of(5, 2)) == [3.0, 7.0, 5.0]


def test_the_interval_over_blocks_spans_the_ratio_of_every_process_where_one_over_cycles_does_not():
    # Two processes of the same code: every cycle of the first costs 540 µs, of the second 560 µs.
    results = _results([540.0] * 6 + [560.0] * 6)
    threads = {OFF: {"event loop and the rest": 500.0}, ON: {"event loop and the rest": 550.0}}
    per_process = (500 / 560, 500 / 540)
    low, high = _cpu_interval(table(results, threads, 12, 3, "", restart_every=6))
    assert low <= round(per_process[0], 3) and high >= round(per_process[1], 3)
    low, high = _cpu_interval(table(results, threads, 12, 3, "", restart_every=0))
    assert low > round(per_process[0], 3) or high < round(per_process[1], 3)  # cycles of one process: too narrow


def test_the_caption_says_how_the_services_were_restarted_and_gives_the_command():
    results = _results([550.0] * 4)
    threads = {OFF: {}, ON: {}}
    restarted = table(results, threads, 4, 1, ", under load", restart_every=2)
    assert "the 2 blocks of 2 cycles (every service restarted at each block" in restarted
    assert "--rounds 4 --seconds 1 --restart-every 2`" in restarted
    assert "one process of each service for the whole run" in table(results, threads, 4, 1, "", restart_every=0)
