from __future__ import annotations

import pytest

from mlobs.cli import build_parser, main


def test_targets_are_name_equals_url_and_default_to_the_compose_ports():
    args = build_parser().parse_args(["acceptance", "--prometheus", "http://p", "--alertmanager", "http://a",
                                      "--oncall", "http://o", "--target", "vision=http://127.0.0.1:1/"])
    assert args.target == [("vision", "http://127.0.0.1:1")]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["acceptance", "--prometheus", "p", "--alertmanager", "a", "--oncall", "o",
                                   "--target", "vision"])


def test_grafana_checks_without_grafana_are_a_usage_error(capsys):
    code = main(["acceptance", "--prometheus", "http://p", "--alertmanager", "http://a", "--oncall", "http://o",
                 "--loki-via-grafana"])
    assert code == 2 and "need --grafana" in capsys.readouterr().err
