"""The OTLP log queue: bounded in lines and in bytes, drops counted, and never blocked by an export in progress."""

from __future__ import annotations

import threading

import orjson
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource

from mlobs.otlp import LogExporter


class Count:
    def __init__(self) -> None:
        self.n = 0

    def inc(self, n: int = 1) -> None:
        self.n += n


class HeldExporter:
    """Takes batches; an export waits until released, as one to a collector that does not answer does."""

    def __init__(self) -> None:
        self.release, self.entered, self.records = threading.Event(), threading.Event(), []

    def export(self, records):
        self.entered.set()
        self.release.wait(10)
        self.records.extend(records)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def line(message: str, size: int = 0) -> bytes:
    return orjson.dumps({"level": "INFO", "message": message, "padding": "x" * size}) + b"\n"


def exporter_and_drops(max_queue_bytes: int):
    counts: dict[str, Count] = {}
    held = HeldExporter()
    sink = LogExporter(Resource.create({}), held, lambda name: counts.setdefault(name, Count()),
                       interval_s=3600, max_queue_bytes=max_queue_bytes)
    return sink, held, counts


def test_lines_past_the_queues_bytes_are_dropped_and_counted_however_few():
    sink, held, counts = exporter_and_drops(max_queue_bytes=3_500_000)
    sink.offer([line(f"big {i}", 1_000_000) for i in range(10)])
    assert counts["logs_otlp_queue_full"].n == 7
    held.release.set()
    sink.flush()
    assert [r.log_record.body for r in held.records] == ["big 0", "big 1", "big 2"]
    sink.offer([line("after", 1_000_000)])  # room again once the batch has left
    assert counts["logs_otlp_queue_full"].n == 7
    sink.shutdown()


def test_an_export_in_progress_never_blocks_the_lines_offered_meanwhile():
    sink, held, counts = exporter_and_drops(max_queue_bytes=1_000_000)
    sink.offer([line("first")])
    exporting = threading.Thread(target=sink.flush)
    exporting.start()
    assert held.entered.wait(5)
    offered = threading.Thread(target=sink.offer, args=([line("meanwhile")],))
    offered.start()
    offered.join(2)
    assert not offered.is_alive()  # the log writer's thread would otherwise wait out the collector's timeout
    held.release.set()
    exporting.join(5)
    sink.shutdown()
    assert [r.log_record.body for r in held.records] == ["first", "meanwhile"]
