"""`python -m mlobs.stackgen generate` writes every generated file; `check` fails if any is stale, then validates."""

from __future__ import annotations

import argparse
import sys

from mlobs.stackgen import GenerationError, config
from mlobs.stackgen.generate import OUT_OF_DATE, differences, render, validate, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlobs.stackgen", description=__doc__)
    parser.add_argument("command", choices=["generate", "check"])
    parser.add_argument("--diff", action="store_true", help="check: print the differences too")
    args = parser.parse_args(argv)
    try:
        if args.command == "generate":
            files = render()
            changed = write(files, config.ROOT)
            print(f"generated {len(files)} files; changed: {', '.join(changed) or 'none'}")
            return 0
        diffs = differences()
        if diffs:
            print(OUT_OF_DATE, file=sys.stderr)
            for rel, diff in diffs.items():
                print(f"  {rel}", file=sys.stderr)
                if args.diff:
                    print(diff, file=sys.stderr)
            return 1
        for line in validate():
            print(f"ok  {line}")
        return 0
    except GenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
