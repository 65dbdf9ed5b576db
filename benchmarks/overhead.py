"""CPU per request of each variant against the bare service, paired round by round: the cells both
telemetry benchmarks put in their tables and the figure they draw."""

from __future__ import annotations

import statistics

from docs_page import ACCENT, BASE, figure, save_figure


def added(values: list[float], bare: list[float]) -> list[float]:
    """Each round's CPU per request minus the bare service's in the same round."""
    return [v - b for v, b in zip(values, bare, strict=True)]


def cpu_cells(values: list[float], bare: list[float], is_bare: bool) -> str:
    """`CPU per request (median) | added over bare (median of rounds) | added, range of rounds`."""
    if is_bare:
        return f"{statistics.median(values):,.0f} µs |  | "
    more = added(values, bare)
    return (f"{statistics.median(values):,.0f} µs | {statistics.median(more):+,.0f} µs "
            f"| {min(more):+,.0f} to {max(more):+,.0f} µs")


def overhead_figure(cpu: dict[str, list[float]], bare: str, name: str, title: str, command: str,
                    highlight: str | None = None) -> str:
    """Horizontal bars: CPU added per request over `bare` (median of rounds), whiskers the range of
    rounds; `highlight` (the stack a user would otherwise assemble) in the accent colour. Returns the
    markdown that embeds docs/img/<name>.svg."""
    names = [n for n in cpu if n != bare]
    spread = [added(cpu[n], cpu[bare]) for n in names]
    middle = [statistics.median(s) for s in spread]
    low = [m - min(s) for m, s in zip(middle, spread)]
    high = [max(s) - m for m, s in zip(middle, spread)]
    fig, ax = figure(width=8.0, height=0.5 * len(names) + 1.6)
    rows = range(len(names))
    ax.barh(rows, middle, xerr=[low, high], capsize=3, color=[ACCENT if n == highlight else BASE for n in names])
    ax.set_yticks(rows, labels=names)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    for row, m, h in zip(rows, middle, high):
        ax.annotate(f"{m:+,.0f} µs", (max(m + h, 0), row), xytext=(4, 0), textcoords="offset points", va="center")
    ax.set_xlabel("CPU added per request over bare (µs)\nbar: median of rounds; whiskers: range of rounds")
    ax.set_title(f"{title}\nbare: {statistics.median(cpu[bare]):,.0f} µs per request", loc="left")
    ax.margins(x=0.15)
    return save_figure(fig, name, command)
