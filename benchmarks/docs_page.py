"""Where benchmark results go in the docs: a block between markers in a page (docs/benchmarks.md
unless told) and figures in docs/img/, drawn in one style.

Figures are matplotlib (Agg backend) written as SVG with text kept as text, a fixed hash salt and
no date, so the same numbers give the same bytes and a figure's diff shows only what the numbers
changed.
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGE = DOCS / "benchmarks.md"
IMG = DOCS / "img"
ACCENT, BASE, MUTED = "#c0392b", "#2c7fb8", "#7f7f7f"  # the comparison, mlobs, context
STYLE = {"svg.hashsalt": "mlobs-benchmarks", "svg.fonttype": "none", "font.size": 9,
         "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3}


def write_section(name: str, markdown: str, path: Path = PAGE) -> None:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = path.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{path.name} has no {start} ... {end} markers")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    path.write_text(pattern.sub(lambda _: f"{start}\n{markdown.strip()}\n{end}", text))


def docs_arguments(parser, page: Path = PAGE) -> None:
    """`--note` and `--write-docs`: the options of every benchmark that writes into a docs page."""
    parser.add_argument("--note", default="", help="a sentence on the machine's state (e.g. shared, under load)")
    parser.add_argument("--write-docs", action="store_true", help=f"rewrite this benchmark's block in docs/{page.name}")


def publish(markdown: str, section: str, write_docs: bool, path: Path = PAGE, figure=None) -> None:
    """Print a benchmark's markdown; with `write_docs`, write it into its block of `path`, under its
    figure if it has one (`figure()` is drawn only then: a printed run leaves docs/img alone)."""
    print(markdown)
    if write_docs:
        write_section(section, f"{figure()}\n\n{markdown}" if figure else markdown, path)


def figure(width: float = 7.0, height: float = 3.6, **subplots):
    """A new figure and its axes in the docs' style (`subplots`: ncols, gridspec_kw ... for several)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    matplotlib.rcParams.update(STYLE)  # a benchmark is a process of its own: its figures share the style
    return pyplot.subplots(figsize=(width, height), layout="constrained", **subplots)


def save_figure(fig, name: str, command: str) -> str:
    """Write `fig` as img/<name>.svg and close it; returns the markdown that embeds it in a page of docs/."""
    from matplotlib import pyplot

    img = IMG
    img.mkdir(parents=True, exist_ok=True)
    fig.savefig(img / f"{name}.svg", format="svg",
                metadata={"Date": None, "Creator": None, "Description": f"Written by {command}; do not edit."})
    pyplot.close(fig)
    ax = fig.axes[0]
    alt = (ax.get_title() or ax.get_title(loc="left") or name).splitlines()[0]
    return f"![{alt}](img/{name}.svg)"
