"""Writes the promtool unit-test files next to the rule files: alerts/tests/<stem>.test.yml."""

from __future__ import annotations

from mlobs.stackgen.alert_spec import Alert, RuleGroup
from mlobs.stackgen.ruletest_spec import Suite, to_promtool
from mlobs.stackgen.yamlout import dump


def test_files(suites: tuple[Suite, ...], groups: list[RuleGroup]) -> dict[str, str]:
    alerts = {r.name: r for g in groups for r in g.rules if isinstance(r, Alert)}
    return {
        f"alerts/tests/{suite.test_file or suite.file}.test.yml": dump(
            {"rule_files": [f"../{suite.file}.rules.yml"], "evaluation_interval": suite.evaluation_interval,
             "tests": [to_promtool(c, alerts) for c in suite.cases]},
            source="src/mlobs/stackgen/ruletests.py",
        )
        for suite in suites
    }
