"""The telemetry benchmarks' cells and figure: CPU added over bare, paired round by round."""

from __future__ import annotations

from overhead import cpu_cells, overhead_figure

BARE = "bare"
# The bare service's speed moves between rounds; a variant's cost is its difference within a round.
CPU = {BARE: [1000.0, 1400.0, 900.0], "lean": [1050.0, 1460.0, 940.0], "standard stack": [1800.0, 2100.0, 1700.0]}


def test_the_added_cost_is_the_median_of_each_rounds_difference_not_the_difference_of_medians():
    # Medians 1050 - 1000 = +50 µs would hide that the rounds gave +50, +60 and +40.
    assert cpu_cells(CPU["lean"], CPU[BARE], is_bare=False) == "1,050 µs | +50 µs | +40 to +60 µs"


def test_the_bare_row_has_its_own_cpu_and_no_added_cost():
    assert cpu_cells(CPU[BARE], CPU[BARE], is_bare=True) == "1,000 µs |  | "


def test_the_figure_shows_each_variant_against_bare_with_the_standard_stack_in_the_accent_colour(img):
    embed = overhead_figure(CPU, BARE, "overhead", "A service: CPU added", "python benchmarks/x.py --write-docs",
                            highlight="standard stack")
    svg = (img / "overhead.svg").read_text()
    assert embed == "![A service: CPU added](img/overhead.svg)"
    assert ">lean</text>" in svg and ">standard stack</text>" in svg and f">{BARE}</text>" not in svg
    assert "+50 µs" in svg and "+800 µs" in svg
    assert "bare: 1,000 µs per request" in svg
    assert svg.count("fill: #c0392b") == 1  # one bar, the standard stack's
