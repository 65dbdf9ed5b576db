from __future__ import annotations

import json

import pytest

from mlobs.stackgen import GenerationError, config, logql, provisioning


@pytest.mark.parametrize("expr", [
    '{service_name=~".*"}', '{service_name=""}', '{service_name!="x"}', '{service_name!~".+"}',
    '{service_name=~"a|"}',
])
def test_a_selector_every_matcher_of_which_matches_the_empty_string_is_refused(expr):
    with pytest.raises(GenerationError, match="empty string"):
        logql.lint(expr)


@pytest.mark.parametrize("expr", [
    '{service_name=~".+"}', '{service_name="vision"}', '{service_name=~".*", deployment_environment="compose"}',
    'sum by (service_name) (count_over_time({service_name=~".+"} | json | status >= 500 [5m]))',
    '{service_name="a"} |= "{service=\\"x\\"}"',
])
def test_a_selector_with_one_matcher_that_needs_a_value_passes(expr):
    logql.lint(expr)


def test_a_label_loki_does_not_have_is_refused_with_the_ones_it_has():
    with pytest.raises(GenerationError, match="service_name"):
        logql.lint('{service="vision"}')


def test_variables_are_linted_with_their_all_value():
    with pytest.raises(GenerationError, match="All value"):
        logql.lint('{service_name=~"$service"}', {"service": ".*"})
    logql.lint('{service_name=~"${service}"}', {"service": ".+"})
    with pytest.raises(GenerationError, match="does not define"):
        logql.lint('{service_name=~"$nope"}', {})


def test_a_brace_inside_a_line_filter_is_not_a_selector():
    assert logql.selectors('{service_name="a"} |= "{x=\\"1\\"}" |~ `{y}`') == [[("service_name", "=", "a")]]


def test_every_shipped_loki_query_passes_the_lint_and_there_is_at_least_one():
    queries = 0
    for path in sorted((config.ROOT / "dashboards" / "generated").glob("*.json")):
        logql.lint_dashboard(path.read_text(), str(path))
        queries += len(logql.dashboard_queries(json.loads(path.read_text())))
    assert queries >= 2


def test_traces_to_logs_maps_the_service_to_a_label_loki_has():
    tempo = next(d for d in provisioning.datasources()["datasources"] if d["type"] == "tempo")
    tags = tempo["jsonData"]["tracesToLogsV2"]["tags"]
    assert tags == [{"key": "service.name", "value": logql.SERVICE_NAME}]
    assert "lokiSearch" not in tempo["jsonData"]  # ignored by Grafana 11
