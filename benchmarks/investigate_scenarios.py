"""Each injected cause on the native stack, and what `mlobs investigate` ranks first: the confusion table.

    python benchmarks/investigate_scenarios.py [--services credit,vision,sentiment] [--write-docs]

One native stack (`mlobs.local`, real Prometheus scraping every second) per scenario: every service
gets the scenario where it has one (sentiment has no bad version or class-prior shift: it runs clean
then), normal traffic first, the cause injected, and then the investigation reads the whole run. With
--write-docs the tables and one report go into docs/investigate.md between its markers.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from mlobs.investigate.model import TITLES
from mlobs.local import scenarios as sc
from mlobs.settings import Settings

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "investigate.md"
ORDER = (sc.CLEAN, sc.OUTAGE, sc.INPUT_DRIFT, sc.CLASS_PRIOR, sc.BAD_VERSION, sc.LATENCY_FAULT)
REPORTED = ("credit", sc.BAD_VERSION)  # the report shown in the docs


def _name(key: str | None) -> str:
    return "no cause found" if key is None else TITLES[key]


def tables(outcomes: list[sc.Outcome], services: list[str], minutes: float) -> str:
    by = {(o.service, o.scenario): o for o in outcomes}
    rows = ["| injected cause | " + " | ".join(services) + " |", "|---|" + "---|" * len(services)]
    for scenario in ORDER:
        cells = []
        for service in services:
            o = by.get((service, scenario))
            cells.append("n/a" if o is None else
                         f"{'✓' if o.correct else '✗'} {_name(o.top)}" + (f" ({o.top_score:.2f})" if o.top else ""))
        rows.append(f"| {scenario}: {sc.DESCRIPTIONS[scenario]} | " + " | ".join(cells) + " |")
    confusion = Counter((o.expected, o.top) for o in outcomes)
    ranked = sorted({o.top for o in outcomes} | {o.expected for o in outcomes}, key=lambda k: (k is None, k or ""))
    matrix = ["| injected \\ ranked first | " + " | ".join(_name(k) for k in ranked) + " |",
              "|---|" + "---|" * len(ranked)]
    for expected in ranked:
        if any(o.expected == expected for o in outcomes):
            matrix.append(f"| {_name(expected)} | " + " | ".join(str(confusion[(expected, k)] or "")
                                                                 for k in ranked) + " |")
    right = sum(o.correct for o in outcomes)
    return "\n".join(rows + ["", *matrix, "",
                             f"{right} of {len(outcomes)} runs ranked the injected cause first (or found none on a "
                             f"clean run). {len(ORDER)} stacks, one per scenario, {minutes:.0f} minutes in all "
                             f"(`python benchmarks/investigate_scenarios.py`, {time.strftime('%Y-%m-%d')})."])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", default="credit,vision,sentiment")
    parser.add_argument("--scenarios", default=",".join(ORDER))
    parser.add_argument("--write-docs", action="store_true", help=f"rewrite the tables in {DOC.name}")
    args = parser.parse_args()
    services = args.services.split(",")
    artifacts_dir = Settings().artifacts_dir
    outcomes: list[sc.Outcome] = []
    started = time.monotonic()
    for scenario in args.scenarios.split(","):
        plan = sc.Plan(Path(tempfile.mkdtemp(prefix=f"mlobs-scenario-{scenario}-")), artifacts_dir,
                       {s: scenario if sc.supported(s, scenario) else sc.CLEAN for s in services})
        for o in sc.run(plan):
            if o.scenario == scenario:
                outcomes.append(o)
                print(f"{o.service:<10} {scenario:<16} expected {_name(o.expected):<28} ranked first "
                      f"{_name(o.top)} ({o.top_score:.2f})", flush=True)
    markdown = tables(outcomes, services, (time.monotonic() - started) / 60)
    print(markdown)
    report = next((o.text() for o in outcomes if (o.service, o.scenario) == REPORTED), None)
    if report:
        print(report)
    if args.write_docs:
        sys.path.insert(0, str(HERE))
        from docs_page import write_section

        write_section("scenarios", markdown, DOC)
        if report:
            write_section("scenario-report", f"```text\n{report}\n```", DOC)
    return 0 if all(o.correct for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
