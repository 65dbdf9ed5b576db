from __future__ import annotations

import io
import logging
import threading

import orjson

from mlobs.logs import JsonLogHandler, JsonLogWriter


def test_each_record_is_one_json_object_per_line_with_the_static_fields():
    stream = io.BytesIO()
    writer = JsonLogWriter({"service": "s", "model": "m", "model_version": "v"}, stream=stream)
    writer.write("INFO", "first", {"n": 1})
    writer.write("WARNING", "second")
    writer.close()
    lines = [orjson.loads(l) for l in stream.getvalue().splitlines()]
    assert [l["message"] for l in lines] == ["first", "second"]
    assert lines[0]["service"] == "s" and lines[0]["model_version"] == "v" and lines[0]["n"] == 1
    assert lines[1]["level"] == "WARNING" and "trace_id" not in lines[1] and "span_id" not in lines[1]


class BlockedStream(io.RawIOBase):
    def __init__(self):
        self.release = threading.Event()

    def write(self, data):
        self.release.wait(5)
        return len(data)


def test_a_blocked_stream_drops_and_counts_instead_of_stalling_the_caller():
    stream, dropped = BlockedStream(), []
    writer = JsonLogWriter({}, stream=stream, max_queue=5, on_dropped=dropped.append, interval=0.01)
    writer.write("INFO", "unblocks nothing")
    for i in range(50):
        writer.write("INFO", f"line {i}")
    stream.release.set()
    writer.close()
    assert sum(dropped) >= 40


def test_standard_logging_records_become_json_with_logger_and_exception():
    stream = io.BytesIO()
    writer = JsonLogWriter({"service": "s"}, stream=stream)
    logger = logging.getLogger("test.mlobs.logs")
    logger.addHandler(JsonLogHandler(writer))
    logger.propagate = False
    try:
        raise ValueError("broken")
    except ValueError:
        logger.exception("failed %s", "here")
    writer.close()
    line = orjson.loads(stream.getvalue().splitlines()[0])
    assert line["message"] == "failed here" and line["level"] == "ERROR"
    assert line["logger"] == "test.mlobs.logs" and "ValueError: broken" in line["exception"]


class RecordingBlockedStream(BlockedStream):
    def __init__(self):
        super().__init__()
        self.written = b""

    def write(self, data):
        self.written += bytes(data)
        return super().write(data)


def test_a_blocked_stream_holds_at_most_the_queues_bytes_however_few_the_lines():
    stream, dropped = RecordingBlockedStream(), []
    writer = JsonLogWriter({}, stream=stream, max_queue=10_000, max_queue_bytes=100_000,
                           on_dropped=dropped.append, interval=0.01)
    writer.write("INFO", "unblocks nothing")
    for _ in range(20):
        writer.write("INFO", "x" * 30_000)
    assert 1 <= sum(dropped) and 20 - sum(dropped) <= 100_000 // 30_000
    stream.release.set()
    writer.write("INFO", "after")  # room again once the stream drains
    writer.close()
    assert b'"message":"after"' in stream.written
