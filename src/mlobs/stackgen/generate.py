"""Every generated file, as {path relative to the repo root: text}; writing and checking them."""

from __future__ import annotations

import difflib
import tempfile
from pathlib import Path

from mlobs.stackgen import (
    GenerationError,
    alertmanager,
    config,
    dashboards,
    grafana,
    kubernetes,
    kubevalidate,
    prometheus_config,
    provisioning,
    reference_docs,
    tools,
)
from mlobs.stackgen.alerts import rule_groups
from mlobs.stackgen.rule_files import rule_files
from mlobs.stackgen.ruletest_files import test_files
from mlobs.stackgen.ruletests import suites

OUT_OF_DATE = "Generated files are out of date: run `make generate` and commit"
# Directories whose every file is generated: a stale extra file there is out of date too.
GENERATED_GLOBS = ("alerts/*.rules.yml", "alerts/tests/*.test.yml", "dashboards/generated/*.json",
                   "stack/grafana/provisioning/**/*.yml", "stack/grafana/alerting/*.yml", "stack/alertmanager/**/*.yml",
                   "stack/prometheus/*.yml", "deploy/kubernetes/**/*.yaml", "docs/reference/*.md")


def render(root: Path = config.ROOT) -> dict[str, str]:
    groups = rule_groups()
    boards = dashboards.files(root / "dashboards")
    out: dict[str, str] = {}
    for part in (rule_files(groups), test_files(suites(), groups), grafana.files(groups), alertmanager.files(),
                 provisioning.files(), prometheus_config.files(), boards, kubernetes.files(groups, boards),
                 reference_docs.files()):
        clash = out.keys() & part.keys()
        if clash:
            raise GenerationError(f"two generators write {', '.join(sorted(clash))}")
        out.update(part)
    return dict(sorted(out.items()))


def write(files: dict[str, str], root: Path) -> list[str]:
    """Write `files` under `root`, removing stale generated files; returns the paths that changed."""
    changed = []
    for stale in _existing(root) - files.keys():
        (root / stale).unlink()
        changed.append(stale)
    for rel, text in files.items():
        path = root / rel
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(rel)
    return sorted(changed)


def _existing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for g in GENERATED_GLOBS for p in root.glob(g) if p.is_file()}


def differences(root: Path = config.ROOT) -> dict[str, str]:
    """{path: unified diff} between the checked-in generated files and a fresh generation."""
    fresh = render(root)
    out = {}
    for rel in sorted(fresh.keys() | _existing(root)):
        path = root / rel
        old = path.read_text() if path.exists() else ""
        new = fresh.get(rel, "")
        if old != new:
            out[rel] = "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                    f"a/{rel}", f"b/{rel}", n=1))
    return out


def validate(root: Path = config.ROOT) -> list[str]:
    """Run promtool and amtool on the generated files, and check every dashboard query parses."""
    done = []
    rules = sorted(root.glob("alerts/*.rules.yml"))
    tools.check_rules(*rules)
    done.append(f"promtool check rules: {len(rules)} files")
    tests = sorted(root.glob("alerts/tests/*.test.yml"))
    tools.test_rules(*tests)
    done.append(f"promtool test rules: {len(tests)} files")
    tools.check_config(root / prometheus_config.COMPOSE_PATH)
    done.append(f"promtool check config: {prometheus_config.COMPOSE_PATH}")
    ams = sorted(root.glob("stack/alertmanager/**/*.yml"))
    tools.check_alertmanager(*ams)
    done.append(f"amtool check-config: {len(ams)} files")
    manifests = kubevalidate.validate(root)
    done.append(f"kubernetes manifests (strict, Kubernetes {kubernetes.KUBERNETES_VERSION}, Prometheus Operator "
                f"CRDs): {manifests} documents")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dashboard-queries.rules.yml"
        queries = dashboards.queries_as_rule_file(root / "dashboards", path)
        tools.check_rules(path)
    done.append(f"dashboard queries parse: {queries}")
    return done
