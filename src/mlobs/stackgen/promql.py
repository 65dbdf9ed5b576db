"""Small PromQL builders. Label names come from catalog Metric objects and are checked against them."""

from __future__ import annotations

from mlobs.catalog import Metric
from mlobs.stackgen import GenerationError


def label(metric: Metric, name: str) -> str:
    """`name`, after checking that `metric` has that label (a catalog rename breaks generation here)."""
    if name not in metric.labels:
        raise GenerationError(f"{metric.name} has no label {name!r}; its labels are {', '.join(metric.labels)}")
    return name


def match(metric: Metric, name: str, value: str, op: str = "=") -> str:
    if op not in ("=", "!=", "=~", "!~"):
        raise GenerationError(f"unknown matcher operator {op!r}")
    return f"{label(metric, name)}{op}{quote(value)}"


def quote(value: str) -> str:
    """A label value as a PromQL string literal: a quote or backslash in it cannot end the string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def sel(series: str, *matchers: str) -> str:
    """A selector: `series{m1, m2}` (no braces when there are no matchers)."""
    return f"{series}{{{', '.join(matchers)}}}" if matchers else series


def by(*labels: str) -> str:
    return f"by ({', '.join(labels)})"


def num(value: float) -> str:
    """A float as PromQL, without binary noise (14.4 * 0.001 -> 0.0144)."""
    text = f"{value:.10g}"
    return text


def le(value: float) -> str:
    """A bucket boundary as prometheus_client writes the `le` label (0.2 -> "0.2", 1.0 -> "1.0")."""
    from prometheus_client.utils import floatToGoString

    return floatToGoString(value)


def ratio(numerator: str, denominator: str) -> str:
    """numerator / denominator, with a missing numerator series counted as 0 (no 5xx yet is 0%, not no data)."""
    return f"(({numerator}) or 0 * ({denominator})) / ({denominator})"
