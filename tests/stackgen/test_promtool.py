from __future__ import annotations

import shutil

import pytest

from mlobs.stackgen import GenerationError, config, prometheus_config, tools
from mlobs.stackgen.dashboards import queries_as_rule_file

ROOT = config.ROOT


def test_the_rule_files_pass_promtool_check():
    out = tools.check_rules(*sorted(ROOT.glob("alerts/*.rules.yml")))
    assert "SUCCESS" in out


@pytest.mark.slow  # promtool evaluates every alert's cases over hours of simulated series
def test_the_rule_unit_tests_pass_promtool_test():
    out = tools.test_rules(*sorted(ROOT.glob("alerts/tests/*.test.yml")))
    assert out.count("SUCCESS") == len(list(ROOT.glob("alerts/tests/*.test.yml")))


def test_promtool_test_fails_on_a_wrong_expectation(tmp_path):
    source = (ROOT / "alerts/tests/service.test.yml").read_text()
    wrong = tmp_path / "service.test.yml"
    wrong.write_text(source.replace("../service.rules.yml", str(ROOT / "alerts/service.rules.yml"))
                     .replace("eval_time: 6m", "eval_time: 3m", 1))
    with pytest.raises(GenerationError, match="failed"):
        tools.test_rules(wrong)


def test_the_compose_prometheus_config_passes_promtool_check_config():
    assert "SUCCESS" in tools.check_config(ROOT / prometheus_config.COMPOSE_PATH)


def test_every_alertmanager_config_passes_amtool():
    files = sorted(ROOT.glob("stack/alertmanager/**/*.yml"))
    assert len(files) == 3
    assert "SUCCESS" in tools.check_alertmanager(*files)


def test_every_dashboard_query_parses(tmp_path):
    path = tmp_path / "queries.rules.yml"
    count = queries_as_rule_file(ROOT / "dashboards", path)
    assert count > 50
    assert "SUCCESS" in tools.check_rules(path)


def test_a_broken_query_is_caught_by_the_parse_check(tmp_path):
    path = tmp_path / "bad.rules.yml"
    path.write_text("groups:\n- name: g\n  rules:\n  - record: x:y\n    expr: sum by (a (rate(x[5m]))\n")
    with pytest.raises(GenerationError):
        tools.check_rules(path)


def test_promtool_and_amtool_are_installed():
    assert shutil.which("promtool") and shutil.which("amtool")
