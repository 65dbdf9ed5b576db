"""mlobs's own CPU per request, without a network or a model: a trivial FastAPI endpoint driven
through its ASGI interface in one process, thousands of times, for each variant in turn, in
alternating rounds (one fresh process per variant and round). CPU is the process's (all threads:
batch export and log writing included) over the timed requests. The figure beside the service
benchmark (telemetry_overhead.py): it isolates what mlobs adds from the cost of HTTP parsing and the
model, and it is steadier on a shared machine.

    python benchmarks/telemetry_inprocess.py [--rounds 5] [--requests 10000] [--write-docs]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from docs_page import docs_arguments, publish  # noqa: E402
from overhead import cpu_cells, overhead_figure  # noqa: E402

DOC = HERE.parent / "docs" / "benchmarks-telemetry.md"
BARE = "bare (no telemetry)"
VARIANTS = {
    BARE: "bare",
    "mlobs, no span processor": "none",
    "mlobs, spans to a no-op exporter": "null",
    "mlobs, exported (OTLP/HTTP)": "exported",
    "mlobs, exported, one span": "onespan",
}

ONE_RUN = r'''
import asyncio, io, sys, time
sys.path.insert(0, sys.argv[3])
from fastapi import FastAPI
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry
from mlobs import ModelInfo, instrument
from mlobs.settings import Settings
from support.otlp import OtlpSink

mode, n = sys.argv[1], int(sys.argv[2])
sink = OtlpSink().__enter__()
kwargs = {}
if mode in ("exported", "onespan"):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from mlobs.otlp_spans import LeanOtlpSpanExporter
    kwargs["span_exporter"] = LeanOtlpSpanExporter(OTLPSpanExporter(endpoint=sink.url + "/v1/traces"))
elif mode == "null":
    class Null(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS
    kwargs["span_exporter"] = Null()
settings = Settings(inference_span=mode != "onespan", telemetry_enabled=mode != "bare")
app = FastAPI()
telemetry = instrument(app, ModelInfo("toy", "v1", "d", "c"), settings=settings, registry=CollectorRegistry(),
                       configure_logging=False, log_stream=io.BytesIO(), **kwargs)

@app.post("/predict")
async def predict():
    with telemetry.inference():
        pass
    return {"ok": 1}

SCOPE = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
         "path": "/predict", "raw_path": b"/predict", "query_string": b"", "root_path": "",
         "headers": [(b"host", b"localhost:8000"), (b"user-agent", b"bench"), (b"content-length", b"0")],
         "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}

async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}

async def send(message):
    pass

async def requests(count):
    for _ in range(count):
        await app(dict(SCOPE), receive, send)

asyncio.run(requests(2000))
telemetry.flush()
start = time.process_time()
asyncio.run(requests(n))
telemetry.flush()
print((time.process_time() - start) / n * 1e6)
'''


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=10_000)
    docs_arguments(parser, DOC)
    args = parser.parse_args()
    results: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, mode in VARIANTS.items():
            out = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", ONE_RUN, mode, str(args.requests),
                                  str(HERE.parent / "tests")], capture_output=True, text=True, check=True)
            results[name].append(float(out.stdout.strip().splitlines()[-1]))
    rows = ["| variant | CPU per request (median) | added over bare (median) | added, range of rounds |",
            "|---|---|---|---|"]
    rows += [f"| {name} | {cpu_cells(values, results[BARE], name == BARE)} |" for name, values in results.items()]
    markdown = "\n".join(rows) + (
        f"\n\n{args.rounds} alternating rounds of {args.requests:,} requests per variant, one process each, "
        f"on CPU 0 (`python benchmarks/telemetry_inprocess.py`), {time.strftime('%Y-%m-%d')}. {args.note}")
    publish(markdown, "inprocess", args.write_docs, DOC, lambda: overhead_figure(
        results, BARE, "telemetry-inprocess", "mlobs alone, in process: CPU added per request",
        "python benchmarks/telemetry_inprocess.py --write-docs"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
