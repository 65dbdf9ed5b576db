"""Deterministic YAML with a DO-NOT-EDIT header; multi-line strings (PromQL) as literal blocks."""

from __future__ import annotations

import yaml

from mlobs.stackgen import config


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(data, header: str = config.DO_NOT_EDIT, source: str | None = None) -> str:
    lines = [f"# {header}"]
    if source:
        lines.append(f"# Source: {source}")
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)
    return "\n".join(lines) + "\n" + body


def dump_all(docs: list, header: str = config.DO_NOT_EDIT, source: str | None = None) -> str:
    """Several YAML documents in one file (Kubernetes manifests), one header."""
    first = dump(docs[0], header, source)
    return first + "".join(
        "---\n" + yaml.dump(d, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)
        for d in docs[1:])
