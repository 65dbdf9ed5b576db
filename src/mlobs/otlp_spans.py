"""OTLP/HTTP span export with a lean protobuf encoder.

The SDK exporter builds a protobuf object for every span, attribute and value before serialising:
about 40 µs of CPU per span of a dozen attributes, the larger part of what an exported request costs.
Here the wire format is written directly (the bytes the SDK's encoder produces, tests/test_otlp_spans.py
checks it against the SDK's messages), repeated attribute pairs come from a bounded cache, and each
resource and scope is encoded once. A span with events or links, or an attribute that is not a
str/bool/int/float, is encoded by the SDK's own encoder. Sending (endpoint, headers, compression,
retries, timeout from OTEL_EXPORTER_OTLP_*) is the SDK exporter's, through a session of
mlobs.otlp_deadline that bounds each request by the whole answer.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger("mlobs.otlp")

_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_KV_CACHE_MAX = 4096


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _any_value(value) -> bytes | None:
    if isinstance(value, bool):
        return b"\x10" + (b"\x01" if value else b"\x00")
    if isinstance(value, str):
        return _field(1, value.encode())
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    return None


class SpanEncoder:
    def __init__(self):
        self._kv: dict[tuple, bytes] = {}
        self._prefixes: dict[tuple, bytes] = {}

    def key_value(self, key: str, value) -> bytes | None:
        cache_key = (key, type(value), value)
        encoded = self._kv.get(cache_key)
        if encoded is None:
            any_value = _any_value(value)
            if any_value is None:
                return None
            encoded = _field(9, _field(1, key.encode()) + _field(2, any_value))
            if len(self._kv) >= _KV_CACHE_MAX:
                self._kv.clear()
            self._kv[cache_key] = encoded
        return encoded

    def span(self, span: ReadableSpan) -> bytes | None:
        """The Span message's bytes, or None when the SDK's encoder must do it."""
        if span.events or span.links:
            return None
        ctx = span.context
        parts = [b"\x0a\x10", ctx.trace_id.to_bytes(16, "big"), b"\x12\x08", ctx.span_id.to_bytes(8, "big")]
        if ctx.trace_state:
            parts.append(_field(3, ",".join(f"{k}={v}" for k, v in ctx.trace_state.items()).encode()))
        parent = span.parent
        if parent is not None:
            parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
        parts.append(_field(5, span.name.encode()))
        parts.append(b"\x30" + _varint(span.kind.value + 1))
        parts.append(b"\x39" + _pack_fixed64(span.start_time) + b"\x41" + _pack_fixed64(span.end_time))
        attributes = span.attributes
        if attributes:
            for key, value in attributes.items():
                encoded = self.key_value(key, value)
                if encoded is None:
                    return None
                parts.append(encoded)
        if span.dropped_attributes:
            parts.append(b"\x50" + _varint(span.dropped_attributes))
        status = span.status
        body = b""
        if status.description:
            body += _field(2, status.description.encode())
        if status.status_code.value:
            body += b"\x18" + _varint(status.status_code.value)
        parts.append(_field(15, body))
        flags = 0x100 | (0x200 if parent is not None and parent.is_remote else 0)
        parts.append(b"\x85\x01" + flags.to_bytes(4, "little"))
        return b"".join(parts)

    def request(self, spans: Sequence[ReadableSpan]) -> bytes:
        """An ExportTraceServiceRequest: spans grouped by resource and scope, in order of arrival."""
        from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import _encode_span

        groups: dict = {}
        for span in spans:
            encoded = self.span(span)
            if encoded is None:
                encoded = _encode_span(span).SerializeToString()
            scopes = groups.setdefault(span.resource, {})
            scopes.setdefault(span.instrumentation_scope or None, []).append(_field(2, encoded))
        out = []
        for resource, scopes in groups.items():
            scope_spans = b"".join(_field(2, self._scope(scope) + b"".join(encoded) + self._schema(scope))
                                   for scope, encoded in scopes.items())
            out.append(_field(1, self._prefix(resource) + scope_spans))
        return b"".join(out)

    def _prefix(self, resource) -> bytes:
        """ResourceSpans' resource and schema_url fields (written before its scope_spans, as the SDK's
        field order does not matter to a decoder)."""
        key = ("resource", resource)
        encoded = self._prefixes.get(key)
        if encoded is None:
            from opentelemetry.exporter.otlp.proto.common._internal import _encode_resource

            encoded = _field(1, _encode_resource(resource).SerializeToString())
            if resource.schema_url:
                encoded += _field(3, resource.schema_url.encode())
            self._prefixes[key] = encoded
        return encoded

    def _scope(self, scope) -> bytes:
        key = ("scope", scope)
        encoded = self._prefixes.get(key)
        if encoded is None:
            from opentelemetry.exporter.otlp.proto.common._internal import _encode_instrumentation_scope

            encoded = _field(1, _encode_instrumentation_scope(scope).SerializeToString())
            self._prefixes[key] = encoded
        return encoded

    @staticmethod
    def _schema(scope) -> bytes:
        return _field(3, scope.schema_url.encode()) if scope is not None and scope.schema_url else b""


class LeanOtlpSpanExporter(SpanExporter):
    """OTLPSpanExporter's configuration and transport, with SpanEncoder's bytes."""

    def __init__(self, inner=None):
        if inner is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            from mlobs.otlp_deadline import session

            inner = OTLPSpanExporter(session=session("TRACES"))
        self._inner = inner
        self._client = getattr(inner, "_client", None)
        self._encoder = SpanEncoder()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._client is None or getattr(self._inner, "_shutdown", False):
            return self._inner.export(spans)
        try:
            data = self._encoder.request(spans)
        except Exception:
            log.exception("lean span encoding failed; the SDK encodes this batch")
            return self._inner.export(spans)
        result = self._client.export(data)
        return SpanExportResult.SUCCESS if result.success else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
