"""Write a benchmark's table into docs/benchmarks.md between its markers."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(name: str, markdown: str) -> None:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = PAGE.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{PAGE.name} has no {start} ... {end} markers")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    PAGE.write_text(pattern.sub(lambda _: f"{start}\n{markdown.strip()}\n{end}", text))
