#!/usr/bin/env python3
"""Fail on words about how the project was made, in any tracked file.

The repository describes the product and its measurements; the way they were arrived at
(sessions, stops, briefs, tickets) belongs in commit history and the tracker, not in files a
user reads. The phrases are the worst offenders, matched case-insensitively.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PHRASES = (
    r"\b(this|that|the previous|the next|an earlier|a later|each|every) stop\b",
    r"\bstop \d+\b",
    r"\bat the (previous|next|last) stop\b",
    r"\b(this|the|a|our) (session|brief)\b",
    r"\bthe brief's\b",
    r"\bwhat was run here\b",
    r"\bthis (2-core )?machine\b",
    r"\b(the|this|an?) issue (#?\d+|tracker)\b",
    r"\btest_the_brief",
)
PATTERN = re.compile("|".join(f"(?:{p})" for p in PHRASES), re.IGNORECASE)
SKIP = {"scripts/check_wording.py", "CHANGELOG.md"}


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    found = 0
    for rel in sorted(tracked.decode().split("\0")):
        path = root / rel
        if not rel or rel in SKIP or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            match = PATTERN.search(line)
            if match:
                print(f"{rel}:{number}: {match.group(0)!r}: describe the product, not how it was made")
                found += 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
