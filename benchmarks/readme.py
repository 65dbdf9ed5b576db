"""Write a benchmark's table into a docs page (docs/benchmarks.md unless told) between its markers."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(name: str, markdown: str, path: Path = PAGE) -> None:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = path.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{path.name} has no {start} ... {end} markers")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    path.write_text(pattern.sub(lambda _: f"{start}\n{markdown.strip()}\n{end}", text))
