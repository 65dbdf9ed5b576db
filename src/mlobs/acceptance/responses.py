"""Reading the backends' HTTP answers: Prometheus, Loki and Tempo (directly or through Grafana's datasource
proxy, which passes the backend's body through unchanged). Pure functions, unit-tested against the shapes the
upstream API docs show."""

from __future__ import annotations

import base64
import binascii
import re

_HEX_TRACE = re.compile(r"^[0-9a-f]{32}$")


class BackendError(RuntimeError):
    pass


def prometheus_data(body: object) -> object:
    """`data` of a Prometheus API answer ({"status": "success", "data": ...}); its error otherwise."""
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else body
        raise BackendError(f"Prometheus answered {error!r}")
    return body["data"]


def exemplar_trace_ids(data: list) -> list[str]:
    """Trace ids of the exemplars in a /api/v1/query_exemplars answer's data, newest first (valid ones only)."""
    found = []
    for series in data or []:
        for exemplar in series.get("exemplars", []):
            trace_id = exemplar.get("labels", {}).get("trace_id", "").lower()
            if _HEX_TRACE.match(trace_id) and trace_id != "0" * 32:
                found.append((float(exemplar.get("timestamp", 0)), trace_id))
    return [t for _, t in sorted(found, reverse=True)]


def loki_lines(body: object) -> list[tuple[dict, int, str]]:
    """(stream labels, unix ns, line) of every entry in a Loki query/query_range answer with resultType streams."""
    if not isinstance(body, dict) or body.get("status") != "success":
        raise BackendError(f"Loki answered {body!r:.300}")
    data = body["data"]
    if data.get("resultType") != "streams":
        raise BackendError(f"Loki answered resultType {data.get('resultType')!r}, expected streams (a log query)")
    return [(s.get("stream", {}), int(ts), line) for s in data.get("result", []) for ts, line in s.get("values", [])]


def trace_id_hex(value: str) -> str:
    """A span's traceId as lowercase hex: Tempo's /api/traces JSON writes ids base64 (protobuf JSON), OTLP
    JSON writes them hex."""
    value = value.strip()
    if _HEX_TRACE.match(value.lower()):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BackendError(f"trace id {value!r} is neither hex nor base64") from None
    if len(raw) != 16:
        raise BackendError(f"trace id {value!r} is {len(raw)} bytes, not 16")
    return raw.hex()


def tempo_spans(body: object) -> list[dict]:
    """Every span of a Tempo trace-by-id answer, each with `traceId` as hex and `service` from its resource.
    Accepts /api/traces/<id> ({"batches": [...]}) and /api/v2/traces/<id> ({"trace": {"resourceSpans": ...}})."""
    if not isinstance(body, dict):
        raise BackendError(f"Tempo answered {body!r:.300}")
    trace = body.get("trace", body)
    batches = trace.get("batches", trace.get("resourceSpans"))
    if batches is None:
        raise BackendError(f"Tempo answered no batches/resourceSpans: {body!r:.300}")
    spans = []
    for batch in batches:
        attributes = batch.get("resource", {}).get("attributes", [])
        service = next((a["value"].get("stringValue") for a in attributes if a.get("key") == "service.name"), None)
        for scope in batch.get("scopeSpans", batch.get("instrumentationLibrarySpans", [])):
            for span in scope.get("spans", []):
                spans.append({**span, "traceId": trace_id_hex(span.get("traceId", "")), "service": service})
    return spans
