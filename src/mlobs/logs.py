"""JSON logs, one object per line, keyed like the metrics and spans.

Lines are serialised by the caller (cheap, with orjson) and written by a
background thread in batches, so a slow or blocked stdout never stalls a request:
past the queue's bound in lines or in bytes, lines are dropped and counted.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from datetime import datetime, timezone
from typing import BinaryIO, Callable

import orjson
from opentelemetry import trace

from mlobs.line_queue import LineQueue

_INVALID = trace.INVALID_SPAN_CONTEXT


def span_ids() -> tuple[str | None, str | None]:
    ctx = trace.get_current_span().get_span_context()
    if ctx is _INVALID or not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


class JsonLogWriter:
    def __init__(
        self,
        static_fields: dict,
        stream: BinaryIO | None = None,
        max_queue: int = 10_000,
        on_dropped: Callable[[int], None] = lambda n: None,
        interval: float = 0.05,
        max_queue_bytes: int = 64 * 1024 * 1024,
    ):
        self._prefix = b"{" + orjson.dumps(static_fields)[1:-1] + b"," if static_fields else b"{"
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._queue = LineQueue(max_queue, max_queue_bytes)
        self._on_dropped = on_dropped
        self._interval = interval
        self._tees: list[Callable[[list[bytes]], None]] = []
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mlobs-log-writer", daemon=True)
        self._thread.start()

    def write(self, level: str, message: str, fields: dict | None = None,
              trace_id: str | None = None, span_id: str | None = None) -> None:
        if trace_id is None:
            trace_id, span_id = span_ids()
        record = {"timestamp": datetime.now(timezone.utc), "level": level, "message": message}
        if trace_id is not None:  # a line outside a span has no ids, rather than null ones
            record["trace_id"], record["span_id"] = trace_id, span_id
        if fields:
            record.update(fields)
        self.write_line(self._prefix + orjson.dumps(record, default=str)[1:] + b"\n")

    def write_line(self, line: bytes) -> None:
        if not self._queue.put_one(line):
            self._on_dropped(1)

    def tee(self, sink: Callable[[list[bytes]], None]) -> None:
        """Also hand every batch of lines to `sink` (on the writer's thread; it must not block)."""
        self._tees.append(sink)

    def flush(self) -> None:
        lines = self._queue.take()
        if lines:
            for sink in self._tees:
                sink(lines)
            try:
                self._stream.write(b"".join(lines))
                self._stream.flush()
            except (OSError, ValueError):
                self._on_dropped(len(lines))

    def close(self, timeout: float = 2.0) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            # Stuck in a write nobody reads (a full pipe): another write would hang the shutdown too.
            dropped = len(self._queue.take())
            if dropped:
                self._on_dropped(dropped)
            return
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self.flush()


class JsonLogHandler(logging.Handler):
    """Routes standard `logging` records (the service's, uvicorn's) through a JsonLogWriter."""

    def __init__(self, writer: JsonLogWriter, level: int = logging.NOTSET):
        super().__init__(level)
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = {"logger": record.name}
            extra = getattr(record, "fields", None)
            if extra:
                fields.update(extra)
            if record.exc_info:
                fields["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            self.writer.write(record.levelname, record.getMessage(), fields)
        except Exception:
            self.handleError(record)


def install(writer: JsonLogWriter, level: str = "INFO") -> JsonLogHandler:
    """Make the root logger write JSON through `writer` (replacing earlier JSON handlers)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, JsonLogHandler):
            root.removeHandler(handler)
    handler = JsonLogHandler(writer)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's own handlers would print plain text; let its records reach ours.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler


def quiet_server_access_log() -> None:
    """uvicorn writes an access line only while its access logger has a handler (it checks per
    connection): with none, mlobs's line is the only one, under `mlobs serve` or `uvicorn app:app`.
    Called at instrument() and again at startup, after a uvicorn.run() may have configured logging."""
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False


