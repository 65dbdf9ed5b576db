"""The Loki stream labels the pipeline writes, and a lint for every LogQL selector the stack ships.

Labels: the services' JSON log lines reach Loki through the Collector (stack/otel-collector/config.yml), which
moves each line's `service` field to the resource attribute `service.name` and upserts
`deployment.environment`; the Collector exports to Loki's native OTLP endpoint. Loki 3.3 makes index labels
only of the resource attributes in `DefaultOTLPResourceAttributesAsIndexLabels`
(grafana/loki pkg/loghttp/push/otlp_config.go; service.name and deployment.environment are on that list),
and writes each name with dots turned into underscores (pkg/loghttp/push/otlp.go, attribute to label name).
Everything else becomes structured metadata, not a stream label. So a stream selector may name only the
labels below; `{service="..."}` selects nothing.

Empty-compatible selectors: Loki refuses a query whose every matcher matches the empty string ("queries
require at least one regexp or equality matcher that does not have an empty-compatible value"), e.g.
`{service_name=~".*"}`, which is what a Grafana variable's All value `.*` produces.
"""

from __future__ import annotations

import json
import re

from mlobs.stackgen import GenerationError, config

SERVICE_NAME = "service_name"  # from resource attribute service.name
ENVIRONMENT = "deployment_environment"  # from deployment.environment (the Collector's resource processor)
STREAM_LABELS = frozenset({SERVICE_NAME, ENVIRONMENT})

_SELECTOR = re.compile(r"\{([^{}]*)\}")
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def selectors(expr: str) -> list[list[tuple[str, str, str]]]:
    """The stream selectors in a LogQL expression, each as [(label, op, value)]. A `{` inside a quoted
    string (a line filter such as |= "{") is not a selector."""
    out, i, quote = [], 0, None
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"`":
            quote = ch
        elif ch == "{":
            end = _closing(expr, i)
            out.append([_matcher(part, expr) for part in _split(expr[i + 1:end])])
            i = end
        i += 1
    return out


def _closing(expr: str, start: int) -> int:
    quoted = False
    for j in range(start + 1, len(expr)):
        if expr[j] == '"' and expr[j - 1] != "\\":
            quoted = not quoted
        elif expr[j] == "}" and not quoted:
            return j
    raise GenerationError(f"LogQL {expr!r}: unclosed stream selector")


def _split(body: str) -> list[str]:
    parts, current, quoted = [], "", False
    for ch in body:
        if ch == '"' and not current.endswith("\\"):
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [p for p in [*parts, current] if p.strip()]


def _matcher(part: str, expr: str) -> tuple[str, str, str]:
    m = _MATCHER.fullmatch(part)
    if m is None:
        raise GenerationError(f'LogQL selector matcher {part!r} in {expr!r} is not label op "value"')
    return m.group(1), m.group(2), re.sub(r"\\(.)", r"\1", m.group(3))


def matches_empty(op: str, value: str) -> bool:
    """Whether a matcher accepts a stream without the label (Loki treats a missing label as "")."""
    if op == "=":
        return value == ""
    if op == "!=":
        return value != ""
    full = re.fullmatch(value, "") is not None  # Loki anchors regexes at both ends
    return full if op == "=~" else not full


def fill(expr: str, variables: dict[str, str]) -> str:
    """Grafana template variables replaced by the given values (a variable with none given is an error)."""
    def value(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name.startswith("__"):
            return m.group(0)
        if name not in variables:
            raise GenerationError(f"LogQL {expr!r} uses ${name}, a variable the dashboard does not define")
        return variables[name]
    return _VARIABLE.sub(value, expr)


def lint(expr: str, variables: dict[str, str] | None = None, where: str = "") -> None:
    """Fail on a selector naming a label Loki does not have, or one every matcher of which can match the
    empty string, once each variable takes its All value."""
    filled = fill(expr, variables or {})
    for matchers in selectors(filled):
        unknown = sorted({label for label, _, _ in matchers} - STREAM_LABELS)
        if unknown:
            raise GenerationError(f"{where}: LogQL {expr!r} selects on {', '.join(unknown)}, which Loki does not "
                                  f"have as a stream label here (it has: {', '.join(sorted(STREAM_LABELS))})")
        if all(matches_empty(op, value) for _, op, value in matchers):
            raise GenerationError(f"{where}: LogQL {expr!r} becomes {filled!r}, whose every matcher matches the "
                                  "empty string; Loki refuses it (give the variable an All value such as .+)")


def dashboard_queries(data: dict) -> list[str]:
    """Every LogQL expression in a dashboard's JSON (targets whose datasource is Loki)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            ds = node.get("datasource")
            if isinstance(ds, dict) and ds.get("uid") == config.LOKI_UID and isinstance(node.get("expr"), str):
                found.append(node["expr"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(data)
    return found


def all_values(data: dict) -> dict[str, str]:
    """Each template variable's All value (what a query sees when "All" is chosen)."""
    return {v["name"]: v.get("allValue") or ".*" for v in data.get("templating", {}).get("list", [])}


def lint_dashboard(text: str, where: str) -> None:
    data = json.loads(text)
    for expr in dashboard_queries(data):
        lint(expr, all_values(data), where)
