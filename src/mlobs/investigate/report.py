"""The investigation as a short terminal report, most likely cause first."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from mlobs.investigate.model import CAUSE_SCORE, Report


def dashboard_url(grafana: str, name: str, report: Report) -> str:
    query = urlencode({"from": int(report.start * 1000), "to": int(report.end * 1000), "var-service": report.service})
    return f"{grafana.rstrip('/')}/d/mlobs-{name}?{query}"


def render(report: Report, grafana: str, show_queries: bool = True) -> str:
    out = [f"mlobs investigate: {report.service}, {clock(report.start)} to {clock(report.end)} UTC"]
    if report.asked_start is not None:
        out.append(f"the range asked for (from {clock(report.asked_start)}) starts inside the breach or too close "
                   f"to its onset to compare: looked back to {clock(report.start)}")
    out.extend(_unscraped(report))
    b = report.breach
    if b is None:
        if report.unanswered:
            out.append(f"no breach can be seen: {report.unanswered}")
        else:
            out.append("no breach: no SLO, accuracy or traffic signal got worse in this range")
        out.append("no cause found")
        return "\n".join(out + [_footer(report)])
    if b.throughout:
        out.append(f"breach ({b.signal}): {b.text}, from {clock(b.onset)} UTC on, with no onset in the range")
    else:
        out.append(f"breach ({b.signal}): {b.text}; onset {clock(b.onset)} UTC")
    if show_queries:
        out.append(f"    PromQL: {b.promql}")
    causes = report.causes
    if report.unanswered:
        out.append(f"no cause found: {report.unanswered}")
    elif not causes:
        out.append("no cause found: none of the hypotheses has evidence at the onset")
    for rank, finding in enumerate(causes, 1):
        head = "most likely cause:" if rank == 1 else f"{rank}."
        out.append(f"\n{head} {finding.title} (score {finding.score:.2f})")
        for ev in finding.evidence:
            out.append(f"  - {ev.text}")
            if show_queries:
                out.append(f"    PromQL: {ev.promql}")
        out.append(f"  dashboard: {dashboard_url(grafana, finding.dashboard, report)}")
    weak = [f for f in report.findings if 0 < f.score < CAUSE_SCORE]
    if weak:
        out.append("\nweaker evidence: " + "; ".join(f"{f.title} ({f.score:.2f}: {f.evidence[0].text})" for f in weak))
    clear = [f.title for f in report.findings if f.score == 0]
    if clear:
        out.append(f"checked, nothing found: {', '.join(clear)}")
    return "\n".join(out + [_footer(report)])


def _unscraped(report: Report) -> list[str]:
    """Every gap in the scrapes, said plainly: nothing in the service's metrics covers it."""
    lines = []
    for gap in report.unscraped:
        until = "the range's end" if gap.end >= report.end else time.strftime("%H:%M", time.gmtime(gap.end))
        span = f"from {clock(gap.start)} UTC to {until} ({(gap.end - gap.start) / 60:.0f} min)"
        if gap.target:
            lines.append(f"not scraped: target {gap.target} (one of the job's {gap.targets}) failed its scrapes "
                         f"{span}; what it served then is not in these metrics")
        else:
            lines.append(f"not scraped: no target of the service's job was up {span}; its metrics cannot show "
                         "what it did then")
    return lines


def _footer(report: Report) -> str:
    return f"\n{report.queries} queries in {report.seconds:.1f} s"


def clock(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(moment))
