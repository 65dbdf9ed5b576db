"""The lean span encoder writes what the SDK's encoder writes, message for message."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from mlobs.otlp_spans import SpanEncoder
from support.otlp import OtlpSink

RESOURCE = Resource.create({"service.name": "toy", "ml.model.version": "v1"})
OTHER_RESOURCE = Resource({"service.name": "other"}, "https://opentelemetry.io/schemas/1.26.0")
SCOPE = InstrumentationScope("mlobs", "0.1.0")


def span(i: int, **overrides) -> ReadableSpan:
    fields = dict(
        name="POST /predict/{kind}", context=SpanContext(0xABC0 + i, 0x12 + i, False, TraceFlags(1)), parent=None,
        resource=RESOURCE, kind=SpanKind.SERVER, start_time=1_700_000_000_000_000_000 + i,
        end_time=1_700_000_000_001_000_000 + i, instrumentation_scope=SCOPE,
        attributes={"http.request.method": "POST", "http.response.status_code": 200, "server.port": 8443,
                    "ml.inference.duration": 0.00123, "ok": True, "no": False, "negative": -5, "zero": 0,
                    "unicode": "naïve — ok", "empty": "", "big": 2**62},
    )
    fields.update(overrides)
    return ReadableSpan(**fields)


def both(spans) -> tuple:
    return ExportTraceServiceRequest.FromString(SpanEncoder().request(spans)), encode_spans(spans)


def test_plain_spans_encode_as_the_sdk_encodes_them():
    ours, sdks = both([span(i) for i in range(3)])
    assert ours == sdks


def test_parents_remote_parents_trace_state_and_error_status_encode_as_the_sdk_encodes_them():
    remote = SpanContext(0xABC0, 0x99, True, TraceFlags(1))
    local = SpanContext(0xABC0, 0x98, False, TraceFlags(1))
    spans = [
        span(0, parent=remote, context=SpanContext(0xABC0, 7, False, TraceFlags(1), TraceState([("vendor", "x1")]))),
        span(1, parent=local, kind=SpanKind.INTERNAL, name="inference",
             status=Status(StatusCode.ERROR, "model exploded")),
        span(2, status=Status(StatusCode.OK), attributes={}),
    ]
    ours, sdks = both(spans)
    assert ours == sdks


def test_spans_with_events_links_or_sequences_fall_back_to_the_sdk_in_the_same_request():
    spans = [
        span(0, events=(Event("exception", {"exception.type": "RuntimeError"}, 5),)),
        span(1, links=(Link(SpanContext(0xDEF, 0x1, True, TraceFlags(1))),)),
        span(2, attributes={"tags": ("a", "b")}),
        span(3),
    ]
    ours, sdks = both(spans)
    assert ours == sdks


def test_spans_of_several_resources_and_scopes_are_grouped_as_the_sdk_groups_them():
    spans = [span(0), span(1, resource=OTHER_RESOURCE), span(2, instrumentation_scope=None),
             span(3, instrumentation_scope=InstrumentationScope("users.code", schema_url="https://x/1.0"))]
    ours, sdks = both(spans)
    assert sorted(r.SerializeToString(deterministic=True) for r in ours.resource_spans) == sorted(
        r.SerializeToString(deterministic=True) for r in sdks.resource_spans)


def test_the_cache_of_attribute_pairs_stays_bounded():
    encoder = SpanEncoder()
    for i in range(10_000):
        encoder.request([span(i, attributes={"url.path": f"/x/{i}"})])
    assert len(encoder._kv) <= 4096


def test_the_lean_exporter_delivers_to_an_otlp_endpoint():
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from mlobs.otlp_spans import LeanOtlpSpanExporter

    with OtlpSink() as sink:
        exporter = LeanOtlpSpanExporter(OTLPSpanExporter(endpoint=f"{sink.url}/v1/traces"))
        assert exporter.export([span(0), span(1)]).name == "SUCCESS"
        exporter.shutdown()
    assert [s.name for s in sink.spans] == ["POST /predict/{kind}"] * 2
    assert sink.resources[0]["service.name"] == "toy"
