"""Server and inference spans built once, at their end, on a TracerProvider mlobs created.

The SDK's Tracer.start_span validates attributes under a lock, consults the context several times and
builds a mutable span that every later call locks again; for the two spans of every request that
was most of mlobs's cost. Here the sampler is asked once at the start (as the SDK would), the ids
come from the provider's id generator, the current span is a light `LeanSpan` the application's
own spans take as their parent, and at the end one `ReadableSpan` goes to the provider's processors'
`on_end`, where batching and export happen as for any span. Processors' `on_start` is not called
for these spans: mlobs uses this only on providers it made, whose processors do not use it.
A provider the application set is used through the ordinary SDK path.
"""

from __future__ import annotations

import time
import traceback

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.sdk.trace.sampling import Decision

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_UNSET = Status(StatusCode.UNSET)


class LeanTracer:
    def __init__(self, provider, scope_name: str = "mlobs"):
        self._provider = provider
        self._processor = provider._active_span_processor
        self._sampler = provider.sampler
        self._ids = provider.id_generator
        self._scope = InstrumentationScope(scope_name)

    @staticmethod
    def usable(provider) -> bool:
        return all(hasattr(provider, a) for a in ("_active_span_processor", "sampler", "id_generator", "resource"))

    def start_server(self, name: str, parent, links) -> trace.Span:
        """The request's span: a LeanSpan if sampled, else a NonRecordingSpan with fresh ids."""
        parent_span = trace.get_current_span(parent) if parent is not None else None
        caller = parent_span.get_span_context() if parent_span is not None else None
        if caller is not None and caller.is_valid:
            trace_id, parent_ctx = caller.trace_id, caller
        else:
            trace_id, parent_ctx = self._ids.generate_trace_id(), None
        result = self._sampler.should_sample(parent, trace_id, name, SpanKind.SERVER, None, links)
        recorded = result.decision is not Decision.DROP
        flags = _SAMPLED if result.decision is Decision.RECORD_AND_SAMPLE else _NOT_SAMPLED
        context = SpanContext(trace_id, self._ids.generate_span_id(), False, flags, result.trace_state)
        if not recorded:
            return trace.NonRecordingSpan(context)
        return LeanSpan(self, name, context, parent_ctx, SpanKind.SERVER, dict(result.attributes or {}), links)

    def start_child(self, name: str, parent: "LeanSpan", attributes: dict) -> "LeanSpan":
        """A child following its parent's sampling decision (the inference span)."""
        ctx = parent.get_span_context()
        context = SpanContext(ctx.trace_id, self._ids.generate_span_id(), False, ctx.trace_flags, ctx.trace_state)
        return LeanSpan(self, name, context, ctx, SpanKind.INTERNAL, attributes, None)

    def finish(self, span: "LeanSpan", end_time: int) -> None:
        self._processor.on_end(ReadableSpan(
            span.name, span._context, span._parent, self._provider.resource, span._attributes, span._events,
            span._links or (), span._kind, None, span._status, span._start, end_time, self._scope))


class LeanSpan(trace.Span):
    """A recording span whose fields are plain Python until its end."""

    __slots__ = ("_tracer", "name", "_context", "_parent", "_kind", "_attributes", "_links", "_events",
                 "_status", "_start", "_ended")

    def __init__(self, tracer: LeanTracer, name: str, context: SpanContext, parent, kind, attributes: dict, links):
        self._tracer = tracer
        self.name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._attributes = attributes
        self._links = links
        self._events: tuple | list = ()
        self._status = _UNSET
        self._start = time.time_ns()
        self._ended = False

    # mlobs sets its own attributes directly (already valid); the application's go through validation.
    def set_trusted(self, attributes: dict) -> None:
        self._attributes.update(attributes)

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return not self._ended

    def set_attributes(self, attributes) -> None:
        if attributes and not self._ended:
            self._attributes.update(BoundedAttributes(attributes=attributes, immutable=False))

    def set_attribute(self, key: str, value) -> None:
        self.set_attributes({key: value})

    def add_event(self, name: str, attributes=None, timestamp: int | None = None) -> None:
        if self._ended:
            return
        if not self._events:
            self._events = []
        self._events.append(Event(name, BoundedAttributes(attributes=attributes or {}), timestamp or time.time_ns()))

    def add_link(self, context: SpanContext, attributes=None) -> None:
        if not self._ended and context.is_valid:
            self._links = [*(self._links or ()), trace.Link(context, attributes)]

    def update_name(self, name: str) -> None:
        self.name = name

    def set_status(self, status, description: str | None = None) -> None:
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if self._status.status_code is not StatusCode.OK:  # OK is final, as in the SDK
            self._status = status

    def record_exception(self, exception: BaseException, attributes=None, timestamp: int | None = None,
                         escaped: bool = False) -> None:
        module, qualname = type(exception).__module__, type(exception).__qualname__
        fields = {"exception.type": f"{module}.{qualname}" if module and module != "builtins" else qualname,
                  "exception.message": str(exception),
                  "exception.stacktrace": "".join(traceback.format_exception(exception)),
                  "exception.escaped": str(escaped)}
        self.add_event("exception", {**fields, **(attributes or {})}, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        self._tracer.finish(self, end_time or time.time_ns())

    def __repr__(self) -> str:
        return f"LeanSpan({self.name!r}, {self._context!r})"
