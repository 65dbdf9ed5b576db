"""Dashboard helpers (built on grafanalib) and the loader that turns dashboards/*.dashboard.py into JSON.

Queries take metric and label names from the catalogs; `q(metric, ...)` adds the template-variable
matchers every model panel shares. Output JSON is deterministic: sorted keys, indent 2.
"""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path

import attr
from grafanalib import core as g
from grafanalib._gen import DashboardEncoder

from mlobs import catalog
from mlobs.catalog import Metric
from mlobs.stackgen import GenerationError, config, logql
from mlobs.stackgen.alert_spec import Alert
from mlobs.stackgen.alerts import rule_groups
from mlobs.stackgen.promql import label
from mlobs.stackgen.yamlout import dump

PROM = {"type": "prometheus", "uid": config.PROMETHEUS_UID}
LOKI = {"type": "loki", "uid": config.LOKI_UID}
TEMPO = {"type": "tempo", "uid": config.TEMPO_UID}
# Not a catalog label: Prometheus adds it as a target label (scrape config), so it may be absent; =~".*" matches both.
ENVIRONMENT = "environment"
VARIABLES = (ENVIRONMENT, catalog.SERVICE, catalog.MODEL, catalog.MODEL_VERSION)
RATE = "$__rate_interval"
SUFFIX = ".dashboard.py"


@attr.s
class PromTarget(g.Target):
    """A Prometheus query with a datasource uid and exemplars (grafanalib's Target has neither)."""

    exemplar = attr.ib(default=False)

    def to_json_data(self):
        data = super().to_json_data()
        data.update({"datasource": PROM, "exemplar": self.exemplar, "range": not self.instant})
        for unused in ("target", "metric", "step", "query"):
            data.pop(unused, None)
        return data


def q(metric: Metric, *extra: str, series: str | None = None, variables: tuple[str, ...] = VARIABLES) -> str:
    """`series{environment=~"$environment", service=~"$service", ..., extra}` for the labels the metric has."""
    matchers = [f'{ENVIRONMENT}=~"${ENVIRONMENT}"'] if ENVIRONMENT in variables else []
    matchers += [f'{label(metric, v)}=~"${v}"' for v in variables if v != ENVIRONMENT and v in metric.labels]
    return f"{series or metric.name}{{{', '.join(matchers + list(extra))}}}"


def prom(expr: str, legend: str = "", *, instant: bool = False, exemplar: bool = False, ref: str = "A") -> PromTarget:
    return PromTarget(expr=expr, legendFormat=legend, instant=instant, exemplar=exemplar, refId=ref)


def targets(*items: PromTarget | dict) -> list:
    """Give each target its own refId (A, B, ...)."""
    out = []
    for i, t in enumerate(items):
        ref = chr(ord("A") + i)
        out.append(attr.evolve(t, refId=ref) if isinstance(t, PromTarget) else {**t, "refId": ref})
    return out


def timeseries(title: str, *items, unit: str = "short", description: str = "", stack: bool = False,
               ds: dict = PROM, **kw) -> g.TimeSeries:
    return g.TimeSeries(title=title, dataSource=ds, targets=targets(*items), unit=unit, description=description,
                        stacking={"mode": "percent" if stack else "none", "group": "A"},
                        fillOpacity=30 if stack else 0, **kw)


def stat(title: str, *items, unit: str = "short", description: str = "", decimals: int | None = None,
         thresholds: list | None = None) -> g.Stat:
    return g.Stat(title=title, dataSource=PROM, targets=targets(*items), format=unit, description=description,
                  decimals=decimals, reduceCalc="lastNotNull", graphMode="none",
                  thresholds=thresholds or [g.Threshold("green", 0, 0.0)])


def table(title: str, *items, description: str = "") -> g.Table:
    return g.Table(title=title, dataSource=PROM, targets=targets(*items), description=description,
                   transformations=[{"id": "merge", "options": {}}])


def text(title: str, content: str) -> g.Text:
    return g.Text(title=title, content=content, mode="markdown")


def grid(rows: list[list], height: int = 8) -> list:
    """Lay out rows of panels left to right; each row shares the 24-column width equally."""
    out, y = [], 0
    for row in rows:
        if isinstance(row, g.RowPanel):
            out.append(attr.evolve(row, gridPos=g.GridPos(h=1, w=24, x=0, y=y)))
            y += 1
            continue
        w = 24 // len(row)
        for i, panel in enumerate(row):
            out.append(attr.evolve(panel, gridPos=g.GridPos(h=height, w=w, x=i * w, y=y)))
        y += height
    return out


def row(title: str) -> g.RowPanel:
    return g.RowPanel(title=title)


def _variable(name: str, query: str, all_value: str = ".*") -> g.Template:
    return g.Template(name=name, label=name.replace("_", " "), query=query, dataSource=PROM, includeAll=True,
                      multi=True, allValue=all_value, default="$__all", refresh=g.REFRESH_ON_TIME_RANGE_CHANGE)


def variables() -> g.Templating:
    info = catalog.MODEL_INFO
    env = f'{ENVIRONMENT}=~"${ENVIRONMENT}"'
    svc = f'{label(info, catalog.SERVICE)}=~"${catalog.SERVICE}"'
    model = f'{label(info, catalog.MODEL)}=~"${catalog.MODEL}"'
    return g.Templating(list=[
        _variable(ENVIRONMENT, f"label_values(up, {ENVIRONMENT})"),
        # .+, not .*: the logs panels select Loki streams with it, and Loki refuses a selector that can match
        # the empty string (mlobs.stackgen.logql). Every series that has the label has it non-empty.
        _variable(catalog.SERVICE, f"label_values({info.name}{{{env}}}, {catalog.SERVICE})", all_value=".+"),
        _variable(catalog.MODEL, f"label_values({info.name}{{{env}, {svc}}}, {catalog.MODEL})"),
        _variable(catalog.MODEL_VERSION,
                  f"label_values({info.name}{{{env}, {svc}, {model}}}, {catalog.MODEL_VERSION})"),
    ])


def version_changes() -> dict:
    """Annotation: a model version appears (a new mlobs_model_info series), so a dip can be traced to a release."""
    info = catalog.MODEL_INFO
    keys = ", ".join(catalog.MODEL_LABELS)
    return {
        "datasource": PROM, "enable": True, "hide": False, "iconColor": "purple",
        "name": "Model version changes",
        "expr": f"group by ({keys}) ({q(info)}) unless group by ({keys}) ({q(info)} offset 5m)",
        "step": "1m", "titleFormat": "{{model}} {{model_version}} in service",
        "textFormat": "{{service}}: model {{model}} version {{model_version}} started serving",
        "tagKeys": "service,model,model_version", "useValueForTime": False,
    }


def runbook_links() -> list:
    runbooks = sorted({a.runbook for grp in rule_groups() for a in grp.rules if isinstance(a, Alert)})
    return [g.DashboardLink(type="link", title=f"Runbook: {r.removesuffix('.md')}",
                            uri=f"{config.RUNBOOK_BASE_URL}/{r}", targetBlank=True, keepTime=False)
            for r in runbooks]


def dashboard(name: str, title: str, panels: list, tags: tuple[str, ...] = (), links: list | None = None,
              annotations: list | None = None) -> g.Dashboard:
    """A dashboard with the shared variables, the version-change annotation and the runbook links."""
    return g.Dashboard(
        title=title, uid=f"mlobs-{name}", tags=["mlobs", *tags], panels=panels, templating=variables(),
        annotations=g.Annotations(list=[version_changes(), *(annotations or [])]),
        links=[*(links or []), *runbook_links()], timezone="utc", refresh="30s",
        time=g.Time("now-3h", "now"), graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        description=f"{config.DO_NOT_EDIT} Source: dashboards/{name}{SUFFIX}",
    ).auto_panel_ids()


# --- loading and writing ---------------------------------------------------------------------------

def sources(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}"))


def load(path: Path) -> g.Dashboard:
    namespace = runpy.run_path(str(path))
    board = namespace.get("dashboard")
    if not isinstance(board, g.Dashboard):
        raise GenerationError(f"{path} must define `dashboard`, a grafanalib Dashboard")
    return board


def to_json(board: g.Dashboard) -> str:
    return json.dumps(board.to_json_data(), cls=DashboardEncoder, sort_keys=True, indent=2) + "\n"


def files(directory: Path) -> dict[str, str]:
    out = {}
    for path in sources(directory):
        name = path.name.removesuffix(SUFFIX)
        text = to_json(load(path))
        logql.lint_dashboard(text, where=f"dashboards/{path.name}")
        out[f"dashboards/generated/{name}.json"] = text
    return out


# --- query checks ----------------------------------------------------------------------------------

def prometheus_queries(data: dict) -> list[str]:
    """Every PromQL expression in a dashboard's JSON: panel targets, annotations, variable selectors."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            ds = node.get("datasource")
            if isinstance(ds, dict) and ds.get("uid") == config.PROMETHEUS_UID and node.get("expr"):
                found.append(node["expr"])
            if node.get("type") == "query" and isinstance(node.get("query"), str):
                m = re.fullmatch(r"label_values\((.+),\s*\w+\)", node["query"])
                if m:
                    found.append(m.group(1))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return found


GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def as_plain_promql(expr: str) -> str:
    """Replace Grafana's variables with sample values so promtool can parse the query."""
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    return re.sub(r"\$\w+", "x", expr)


def queries_as_rule_file(directory: Path, path: Path) -> int:
    """Write every dashboard query as a recording rule (promtool has no parse-only mode); returns the count."""
    rules = []
    for name, text in sorted(files(directory).items()):
        for i, expr in enumerate(prometheus_queries(json.loads(text))):
            rules.append({"record": f"dashboard:query:{len(rules)}", "expr": as_plain_promql(expr),
                          "labels": {"dashboard": Path(name).stem, "query": str(i)}})
    path.write_text(dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
    return len(rules)
