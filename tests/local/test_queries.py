from __future__ import annotations

from mlobs.local.queries import dashboard_queries, live_promql, rule_queries


def test_template_variables_become_their_all_value_and_builtins_a_window():
    expr = 'rate(m{service=~"$service", model=~"${model}"}[$__rate_interval])'
    assert live_promql(expr) == 'rate(m{service=~".*", model=~".*"}[1m])'


def test_every_generated_dashboard_contributes_queries_that_need_data():
    queries = dashboard_queries()
    boards = {q.source.split()[1] for q in queries}
    assert {"service-overview", "slo", "drift", "model-quality", "business"} <= boards
    assert all(q.needs_data and "$" not in q.expr for q in queries)


def test_rule_queries_cover_alerts_and_recording_rules():
    sources = [q.source for q in rule_queries()]
    assert any(s.startswith("alert ServiceDown") for s in sources)
    assert any(s.startswith("record slo:") for s in sources)
