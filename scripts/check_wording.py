#!/usr/bin/env python3
"""Fail on phrases that narrate a file's history instead of describing the product, in any tracked file.

The phrases below are the ones to avoid, matched case-insensitively; README, docs, docstrings,
comments and test names state what the product does and what was measured.
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
