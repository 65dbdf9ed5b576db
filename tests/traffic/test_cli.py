from __future__ import annotations

import types

import pytest

from mlobs import registry
from mlobs.cli import build_parser, main
from mlobs.traffic import cli as traffic_cli
from mlobs_services.sentiment import workload as sentiment_workload


@pytest.fixture
def sentiment_registered(monkeypatch):
    """The registry's sentiment entry, narrowed to its workload (the full service is not needed here)."""
    module = types.SimpleNamespace(__name__="sentiment", workload=sentiment_workload.workload)
    monkeypatch.setattr(registry, "load", lambda name: module)


def test_the_traffic_command_is_registered_with_its_defaults():
    args = build_parser().parse_args(["traffic", "--target", "http://x", "--rate", "5", "--duration", "2"])
    assert args.func is traffic_cli.run
    assert (args.concurrency, args.feedback_rate, args.timeout, args.scenario) == (64, 0.3, 10.0, "normal")
    assert (args.scenario_delay, args.arrivals, args.service, args.quiet) == (0.0, "poisson", None, False)


@pytest.mark.parametrize("bad", [["--rate", "0"], ["--duration", "-1"], ["--feedback-rate", "2"],
                                 ["--concurrency", "0"]])
def test_impossible_arguments_are_refused(bad, capsys):
    argv = ["traffic", "--target", "http://x", "--rate", "5", "--duration", "1", *bad]
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert "must be" in capsys.readouterr().err


@pytest.mark.integration
def test_a_run_against_a_sentiment_service_sends_predictions_bad_inputs_and_feedback(
    fake_sentiment, sentiment_registered, capsys
):
    url, fake = fake_sentiment
    argv = ["traffic", "--target", url, "--rate", "150", "--duration", "1", "--seed", "7", "--quiet",
            "--feedback-rate", "0.5", "--scenario", "domain-shift", "--scenario-delay", "0.5"]

    code = main(argv)

    out = capsys.readouterr().out
    assert code == 0
    issued = {p["request_id"] for p in fake.predictions}
    assert fake.feedback and {f["request_id"] for f in fake.feedback} <= issued
    assert all(f["label"] in ("negative", "neutral", "positive") for f in fake.feedback)
    assert fake.rejected and all(400 <= status < 500 for status in fake.rejected)
    assert any("texts" in p["body"] for p in fake.predictions)
    assert "normal: " in out and "domain-shift: " in out
    assert "200: " in out and "latency ms" in out


def test_an_unreachable_target_exits_non_zero_with_a_clear_message(closed_port_url, capsys):
    code = main(["traffic", "--target", closed_port_url, "--rate", "10", "--duration", "0.2", "--quiet"])

    err = capsys.readouterr().err
    assert code != 0
    assert f"cannot reach {closed_port_url}/healthz" in err
    assert "--service" in err


def test_a_run_where_nothing_succeeds_exits_non_zero(closed_port_url, sentiment_registered, capsys):
    argv = ["traffic", "--target", closed_port_url, "--service", "sentiment",
            "--rate", "20", "--duration", "0.2", "--quiet"]

    code = main(argv)

    captured = capsys.readouterr()
    assert code == 1
    assert "no request succeeded" in captured.err and "connect_error" in captured.err
    assert "requests sent:" in captured.out


def test_an_unknown_scenario_is_refused_with_the_valid_ones(sentiment_registered, capsys):
    argv = ["traffic", "--target", "http://x", "--service", "sentiment", "--scenario", "rotation",
            "--rate", "1", "--duration", "1", "--quiet"]

    assert main(argv) == 2
    assert ("unknown scenario 'rotation' for sentiment; choose one of: domain-shift, domain-shift-10%, "
            "domain-shift-20%, domain-shift-5%, normal") in capsys.readouterr().err


def test_a_detected_service_that_the_registry_does_not_know_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(traffic_cli, "detect_service", lambda target, timeout_s: "weather")

    assert main(["traffic", "--target", "http://x", "--rate", "1", "--duration", "1", "--quiet"]) == 2
    assert "unknown service 'weather'" in capsys.readouterr().err
