"""Parsing the backends' answers, against the shapes their API docs show (data/README.md names each source)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlobs.acceptance import responses
from mlobs.acceptance.responses import BackendError

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def test_loki_streams_become_labelled_lines_with_nanosecond_times():
    lines = responses.loki_lines(load("loki_query_range_streams.json"))
    assert len(lines) == 2
    labels, ns, line = lines[0]
    assert labels["service_name"] == "vision" and ns == 1569266497240578000
    assert "5b8efff798038103d269b633813fc700" in line


def test_a_loki_metric_answer_or_error_is_not_mistaken_for_logs():
    with pytest.raises(BackendError, match="streams"):
        responses.loki_lines({"status": "success", "data": {"resultType": "matrix", "result": []}})
    with pytest.raises(BackendError):
        responses.loki_lines({"status": "error", "error": "parse error"})


def test_tempo_base64_trace_ids_come_back_as_the_hex_id_that_was_asked_for():
    spans = responses.tempo_spans(load("tempo_trace_v1.json"))
    assert [s["traceId"] for s in spans] == ["5b8efff798038103d269b633813fc700"]
    assert spans[0]["service"] == "my.service" and spans[0]["name"] == "I am a span!"


def test_tempo_v2_answers_and_hex_ids_are_read_too():
    v1 = load("tempo_trace_v1.json")
    v2 = {"trace": {"resourceSpans": v1["batches"]}}
    v2["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "5B8EFFF798038103D269B633813FC700"
    assert responses.tempo_spans(v2)[0]["traceId"] == "5b8efff798038103d269b633813fc700"


@pytest.mark.parametrize("bad", ["not-an-id", "AAAA", "W47/95gDgQPSabYzgT/H"])
def test_a_trace_id_that_is_not_16_bytes_is_an_error(bad):
    with pytest.raises(BackendError):
        responses.trace_id_hex(bad)


def test_a_tempo_answer_without_spans_is_an_error():
    with pytest.raises(BackendError):
        responses.tempo_spans({"error": "trace not found"})


def test_exemplar_trace_ids_are_newest_first_and_only_valid_ones():
    data = responses.prometheus_data(load("prometheus_query_exemplars.json"))
    assert responses.exemplar_trace_ids(data) == ["0af7651916cd43dd8448eb211c80319c",
                                                  "5b8efff798038103d269b633813fc700"]


def test_a_prometheus_error_is_raised_with_its_message():
    with pytest.raises(BackendError, match="bad_data"):
        responses.prometheus_data({"status": "error", "errorType": "bad_data", "error": "bad_data: parse error"})
