"""The configuration and metric references of the docs site, written from the code they describe.

Settings are documented by the comments above their fields (the comments stay next to the code a
developer edits); metrics by every `Metric` in a `catalog` module of the library, so a rename or a
new setting updates the docs on the next `make generate`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
import typing

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

import mlobs
from mlobs.catalog import Metric
from mlobs.settings import Settings
from mlobs.stackgen import config

CONFIGURATION_PATH = "docs/reference/configuration.md"
METRICS_PATH = "docs/reference/metrics.md"
HEADER = f"<!-- {config.DO_NOT_EDIT} -->\n"


def files() -> dict[str, str]:
    return {CONFIGURATION_PATH: configuration(), METRICS_PATH: metrics()}


def configuration() -> str:
    prefix = Settings.model_config.get("env_prefix", "")
    delimiter = Settings.model_config.get("env_nested_delimiter", "__")
    sections = [("General", Settings, prefix)]
    for name, field in Settings.model_fields.items():
        nested = _model_type(field)
        if nested is not None:
            title = f"`{name}`: {_first_line(nested)}" if _first_line(nested) else f"`{name}`"
            sections.append((title, nested, f"{prefix}{name.upper()}{delimiter}"))
    out = [HEADER, "# Configuration\n",
           "Every setting is read once per process from the environment (one `Settings` object, "
           "`mlobs.settings.get_settings()`). Nested sections use `__`: `MLOBS_AUDIT__STORE_URL`. "
           "The standard `OTEL_*` variables are read by the OpenTelemetry SDK with its own precedence.\n"]
    for title, model, env_prefix in sections:
        comments = _field_comments(model)
        rows = []
        for name, field in model.model_fields.items():
            if _model_type(field) is not None:
                continue
            rows.append(f"| {_env_names(name, field, env_prefix)} | {_type_name(field.annotation)} | "
                        f"{_default(field)} | {_cell(comments.get(name, ''))} |")
        out.append(f"\n## {title}\n\n| variable | type | default | meaning |\n|---|---|---|---|\n")
        out.append("\n".join(rows) + "\n")
    return "".join(out)


def metrics() -> str:
    out = [HEADER, "# Metrics\n",
           "Every metric mlobs emits, from the catalogs that both the code making them and the "
           "dashboards and rules querying them import. Counters appear in PromQL with `_total`; "
           "histograms with `_bucket`, `_sum` and `_count`.\n"]
    for module in _catalog_modules():
        found = [m for m in vars(module).values() if isinstance(m, Metric)]
        if not found:
            continue
        out.append(f"\n## `{module.__name__}`\n\n{_cell(_first_line(module))}\n\n"
                   "| name | type | labels | meaning |\n|---|---|---|---|\n")
        for m in sorted(found, key=lambda m: m.name):
            name = m.total if m.kind == "counter" else m.name
            labels = ", ".join(f"`{label}`" for label in m.labels) or "none"
            buckets = f" Buckets: {', '.join(f'{b:g}' for b in m.buckets)}." if m.buckets else ""
            out.append(f"| `{name}` | {m.kind} | {labels} | {_cell(m.help)}{buckets} |\n")
    return "".join(out)


def _catalog_modules():
    names = sorted(info.name for info in pkgutil.walk_packages(mlobs.__path__, "mlobs.")
                   if info.name.rsplit(".", 1)[-1] == "catalog")
    return [importlib.import_module(name) for name in names]


def _model_type(field: FieldInfo) -> type[BaseModel] | None:
    ann = field.annotation
    return ann if inspect.isclass(ann) and issubclass(ann, BaseModel) else None


def _env_names(name: str, field: FieldInfo, env_prefix: str) -> str:
    choices = getattr(field.validation_alias, "choices", None)
    names = [str(c) for c in choices] if choices else [f"{env_prefix}{name.upper()}"]
    return "<br>".join(f"`{n}`" for n in names)


def _type_name(annotation) -> str:
    text = getattr(annotation, "__name__", None) if typing.get_origin(annotation) is None else None
    text = text or str(annotation).replace("typing.", "").replace("pathlib.", "")
    return f"`{text}`".replace("|", "\\|")


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, (dict, list)) and not value:
            return f"`{value!r}`"
        return "computed"
    if field.default is PydanticUndefined:
        return "required"
    return f"`{field.default!r}`".replace("|", "\\|")


def _field_comments(model: type[BaseModel]) -> dict[str, str]:
    """{field: the comment lines right above it, or its trailing comment}."""
    source = textwrap.dedent(inspect.getsource(model))
    lines = source.splitlines()
    out = {}
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            row = node.lineno - 1
            above = []
            i = row - 1
            while i >= 0 and lines[i].strip().startswith("#"):
                above.insert(0, lines[i].strip().lstrip("#").strip())
                i -= 1
            trailing = lines[row].split("  # ", 1)[1].strip() if "  # " in lines[row] else ""
            out[node.target.id] = " ".join(above + ([trailing] if trailing else []))
    return out


def _first_line(obj) -> str:
    # The object's own docstring: a settings class without one must not show pydantic's.
    doc = inspect.cleandoc(vars(obj).get("__doc__") or "")
    return doc.split("\n\n", 1)[0].replace("\n", " ")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
