"""A platform engineer's own FastAPI service, written as docs/instrument.md shows and served by plain
`uvicorn app:app`: its exception handlers, background tasks, streams, mounted sub-applications,
departing clients, lifespan, workers, a stdout nobody reads and a collector that never answers,
checked from outside (HTTP, raw sockets, /metrics, an OTLP receiver, stdout)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import orjson
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from mlobs.local.ports import free_port, wait_for_http
from support.otlp import OtlpSink, attributes
from support.uvicorn_app import UvicornApp

pytestmark = pytest.mark.integration

USERS_APP = '''
import asyncio
import logging
import time

from fastapi import BackgroundTasks, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlobs import ModelInfo, instrument

app = FastAPI()


class OutOfStock(Exception):
    pass


@app.exception_handler(OutOfStock)
async def out_of_stock(request, exc):
    return JSONResponse({"sorry": "out of stock"}, status_code=409)


@app.exception_handler(StarletteHTTPException)  # as FastAPI's documentation registers it
async def their_http_errors(request, exc):
    return JSONResponse({"their_detail": exc.detail}, status_code=exc.status_code)


@app.exception_handler(RequestValidationError)
async def their_validation_errors(request, exc):
    return JSONResponse({"their_problems": len(exc.errors())}, status_code=400)


telemetry = instrument(app, ModelInfo(name="churn", version="7", training_data_hash="d", code_revision="c"))


log = logging.getLogger("churn")


def warehouse():
    time.sleep(0.4)
    log.info("prediction stored", extra={"fields": {"table": "predictions"}})


@app.post("/score")
async def score(tasks: BackgroundTasks):
    tasks.add_task(warehouse)
    return {"churn_probability": 0.1}


retrained = asyncio.Event()


async def retrain_when_told():
    await retrained.wait()


@app.post("/feedback")
async def feedback(tasks: BackgroundTasks):
    tasks.add_task(retrain_when_told)  # runs until /release: for all the client knows, forever
    return {"queued": True}


@app.post("/release")
async def release():
    retrained.set()
    return {}


@app.post("/upload")
async def upload(request: Request):
    return {"bytes": len(await request.body())}


@app.post("/features")
async def features(customer: dict):
    return {"fields": len(customer)}


@app.get("/scores")
async def scores():
    async def rows():
        yield b"0.1,"
        raise RuntimeError("the feature store went away")

    return StreamingResponse(rows())


@app.get("/orders/{oid}")
async def order(oid: int, response: Response):
    response.headers["X-Request-ID"] = f"order-{oid}"  # the application's own request ids
    return {}


@app.get("/segment")
def segment():  # a sync endpoint: FastAPI runs it on a worker thread
    log.info("segment looked up")
    return {"segment": "smb"}


@app.get("/explode")
async def explode():
    raise ValueError("the model file is corrupt")


@app.get("/stock")
async def stock():
    raise OutOfStock()


@app.get("/customers/{cid}")
async def customer(cid: int):
    raise HTTPException(404, detail="no such customer")


items = FastAPI()


@items.get("/items/{iid}")
async def item(iid: int):
    return {"iid": iid}


app.mount("/v1", items)
app.mount("/v2", items)
app.mount("/tenants/{tenant}", items)
'''


# What Prometheus 2.42 sends on every scrape (recorded from a real one).
PROMETHEUS_2_42_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                          "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    directory = tmp_path_factory.mktemp("users-service")
    (directory / "app.py").write_text(USERS_APP)
    with OtlpSink() as sink:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}
        # Behind a proxy that strips /churn: uvicorn puts it back in front of every path.
        with UvicornApp("app:app", env, directory / "out.log", app_dir=directory,
                        args=("--root-path", "/churn")) as service:
            with httpx.Client(base_url=service.url) as client:
                for probe in ("/healthz", "/readyz", "/metrics"):
                    assert client.get(probe).status_code == 200
                answers = {
                    "score": client.post("/score"),
                    # uvicorn closes a connection whose request raised: a connection of its own
                    "explode": httpx.get(f"{service.url}/explode"),
                    "stock": client.get("/stock"),
                    "customer": client.get("/customers/3"),
                    "invalid": client.get("/customers/three"),
                    "segment": client.get("/segment"),
                    "order": client.get("/orders/42"),
                }
                # a connection of its own: uvicorn serves no next request on it until the task ends
                answers["feedback"] = httpx.post(f"{service.url}/feedback")
                answers["while_its_task_runs"] = client.get("/metrics").text
                assert client.post("/release").status_code == 200
                for path in ("/v1/items/1", "/v2/items/2", *(f"/tenants/t{i}/items/{i}" for i in range(20))):
                    assert client.get(path).status_code == 200
                for i in range(20):
                    assert client.get(f"/v1/scan/{i}").status_code == 404
                for i, method in enumerate(["GET", "PROPFIND", "OPTIONS", "HEAD", "DELETE"] * 40):
                    prefix = ("", "/v1", "/v2/items", f"/tenants/probe-{i}", "/customers")[i % 5]
                    assert client.request(method, f"{prefix}/probe-{i}").status_code in (400, 404, 405)
                with pytest.raises(httpx.HTTPError):  # the stream is cut
                    httpx.get(f"{service.url}/scores")
                for path in ("/upload", "/features"):
                    _leave_halfway_through_the_body(service.port, path)
                time.sleep(0.5)  # the background task ends
                metrics = client.get("/metrics").text
                scraped = client.get("/metrics", headers={"accept": PROMETHEUS_2_42_ACCEPT})
            deadline = time.monotonic() + 10
            while not any(s.name == "POST /score" for s in sink.spans) and time.monotonic() < deadline:
                time.sleep(0.05)
        lines = [orjson.loads(line) for line in service.output().splitlines() if line.startswith("{")]
        answers["scraped"] = scraped
        yield answers, metrics, lines, sink


def _leave_halfway_through_the_body(port: int, path: str) -> None:
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Content-Length: 100000\r\n\r\n".encode() + b'{"tenure": 1')
        time.sleep(0.1)


def _samples(metrics: str, name: str) -> list:
    return [s for family in text_string_to_metric_families(metrics) for s in family.samples if s.name == name]


def test_a_background_task_does_not_count_towards_the_latency_the_client_saw(served):
    answers, metrics, lines, sink = served
    assert answers["score"].status_code == 200
    [observed] = [s for s in _samples(metrics, "mlobs_http_request_duration_seconds_sum")
                  if s.labels["route"] == "/score"]
    assert observed.value < 0.3
    [logged] = [line for line in lines if line.get("route") == "/score"]
    assert logged["duration_ms"] < 300
    [span] = [s for s in sink.spans if s.name == "POST /score"]
    assert (span.end_time_unix_nano - span.start_time_unix_nano) / 1e9 < 0.3


def test_a_request_id_the_application_sets_itself_is_the_one_answered_and_logged(served):
    answers, _, lines, _ = served
    assert answers["order"].headers.get_list("x-request-id") == ["order-42"]
    assert [line["route"] for line in lines if line.get("request_id") == "order-42"] == ["/orders/{oid}"]


def test_a_request_whose_background_task_is_still_running_is_already_counted(served):
    answers, _, _, _ = served
    assert answers["feedback"].status_code == 200
    counted = [s for s in _samples(answers["while_its_task_runs"], "mlobs_http_request_duration_seconds_count")
               if s.labels["route"] == "/feedback"]
    assert [(s.labels["status"], s.value) for s in counted] == [("200", 1)]


def test_the_applications_own_log_lines_carry_the_trace_of_their_request(served):
    answers, _, lines, _ = served
    access = {line["request_id"]: line for line in lines if line.get("message") == "request"}
    score, segment = (access[answers[name].headers["x-request-id"]] for name in ("score", "segment"))
    [stored] = [line for line in lines if line["message"] == "prediction stored"]
    [looked_up] = [line for line in lines if line["message"] == "segment looked up"]
    assert (stored["trace_id"], stored["table"]) == (score["trace_id"], "predictions")  # a background task
    assert looked_up["trace_id"] == segment["trace_id"]  # a sync endpoint
    assert stored["service"] == "churn" and stored["logger"] == "churn"


def test_a_client_that_leaves_halfway_through_its_body_is_no_server_error(served):
    """Anyone could otherwise mint 5xx at will, burn the availability SLO and page the on-call."""
    _, metrics, lines, sink = served
    statuses = {(s.labels["route"], s.labels["status"]) for s in
                _samples(metrics, "mlobs_http_request_duration_seconds_count")
                if s.labels["route"] in ("/upload", "/features")}
    assert statuses == {("/upload", "499"), ("/features", "499")}
    assert not [line for line in lines if line["level"] == "ERROR" and "ClientDisconnect" in line.get("exception", "")]
    left = [s for s in sink.spans if s.name in ("POST /upload", "POST /features")]
    assert len(left) == 2 and all(s.status.code != 2 for s in left)


def test_the_traceback_of_an_unhandled_error_is_logged_with_the_requests_trace_id(served):
    answers, _, lines, sink = served
    assert answers["explode"].status_code == 500
    request_id = answers["explode"].headers["x-request-id"]
    [access] = [line for line in lines if line.get("request_id") == request_id]
    assert access["error"] == "ValueError"
    [error] = [line for line in lines if "the model file is corrupt" in line.get("exception", "")
               and line.get("logger") == "mlobs.errors"]
    assert error["trace_id"] == access["trace_id"] and error["span_id"] == access["span_id"]
    [span] = [s for s in sink.spans if s.trace_id.hex() == access["trace_id"] and s.name == "GET /explode"]
    assert attributes(span)["error.type"] == "ValueError"
    assert span.status.code == 2  # ERROR


def test_a_stream_cut_by_an_exception_is_logged_and_traced_as_an_error_after_its_200(served):
    _, _, lines, sink = served
    [access] = [line for line in lines if line.get("message") == "request" and line["route"] == "/scores"]
    assert (access["status"], access["error"]) == (200, "RuntimeError")
    [span] = [s for s in sink.spans if s.name == "GET /scores"]
    assert span.status.code == 2 and attributes(span)["error.type"] == "RuntimeError"


def test_exception_handlers_registered_before_instrument_still_answer(served):
    answers, metrics, _, _ = served
    assert answers["stock"].status_code == 409 and answers["stock"].json() == {"sorry": "out of stock"}
    assert answers["customer"].status_code == 404
    assert answers["customer"].json() == {"their_detail": "no such customer"}
    assert answers["invalid"].status_code == 400 and answers["invalid"].json() == {"their_problems": 1}
    routes = {(s.labels["route"], s.labels["status"]) for s in
              _samples(metrics, "mlobs_http_request_duration_seconds_count")}
    assert {("/stock", "409"), ("/customers/{cid}", "404"), ("/customers/{cid}", "400")} <= routes


def test_a_scan_of_made_up_paths_and_methods_adds_no_series_per_path_or_method(served):
    _, metrics, _, _ = served
    series = [s.labels for family in text_string_to_metric_families(metrics) for s in family.samples]
    assert not [labels for labels in series if any("probe-" in value for value in labels.values())]
    methods = {labels["method"] for labels in series if "method" in labels}
    assert methods <= {"GET", "POST", "HEAD", "OPTIONS", "DELETE", "_OTHER"}


def test_probes_and_scrapes_behind_a_root_path_make_no_access_lines_spans_or_series(served):
    _, metrics, lines, sink = served
    assert [line for line in lines if line.get("message") == "request" and line["route"].endswith(
        ("/healthz", "/readyz", "/metrics"))] == []
    assert [s.name for s in sink.spans if s.name.endswith(("/healthz", "/readyz", "/metrics"))] == []
    assert {s.labels["route"] for s in _samples(metrics, "mlobs_http_request_duration_seconds_count")
            if s.labels["route"] in ("/healthz", "/readyz", "/metrics")} == set()


def test_a_mounted_sub_application_is_labelled_by_its_full_route_template(served):
    _, metrics, _, _ = served
    counts = {(s.labels["route"], s.labels["method"], s.labels["status"]): s.value
              for s in _samples(metrics, "mlobs_http_request_duration_seconds_count")}
    assert {route: n for (route, _, status), n in counts.items() if status == "200" and "items" in route} == {
        "/v1/items/{iid}": 1, "/v2/items/{iid}": 1, "/tenants/{tenant}/items/{iid}": 20}
    assert counts[("/v1/{path}", "GET", "404")] >= 20  # what the mount answers without a route of its own


@pytest.mark.slow
def test_a_service_whose_stdout_nobody_reads_answers_counts_its_lost_lines_and_still_stops(tmp_path):
    """`uvicorn app:app | a-reader-that-hangs`: the pipe fills; requests must not wait on it, the lines
    dropped are counted, and SIGTERM still ends the process rather than leaving it for SIGKILL."""
    (tmp_path / "app.py").write_text(USERS_APP)
    port = free_port()
    read_end, write_end = os.pipe()  # read by nobody
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", str(tmp_path), "--port", str(port)],
        stdout=write_end, stderr=subprocess.DEVNULL, env={**os.environ, "MLOBS_LOG_QUEUE_SIZE": "50"})
    os.close(write_end)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/healthz", 60, "app")
        with httpx.Client(base_url=url, timeout=5) as client:
            for _ in range(400):  # about 120 KB of access lines: past a 64 KiB pipe and the queue
                assert client.get("/v1/items/1").status_code == 200
            metrics = client.get("/metrics").text
        [dropped] = [s.value for s in _samples(metrics, "mlobs_telemetry_dropped_total")
                     if s.labels["signal"] == "logs_queue_full"]
        assert dropped > 0
        process.send_signal(signal.SIGTERM)
        process.wait(15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(read_end)


@pytest.mark.slow
def test_a_collector_that_never_answers_holds_neither_requests_nor_the_shutdown(tmp_path):
    """The OTLP endpoint accepts connections and never replies: requests are answered, and SIGTERM
    ends the service within its telemetry's shutdown bound (its export timeout is 10 s)."""
    (tmp_path / "app.py").write_text(USERS_APP)
    hole = socket.create_server(("127.0.0.1", 0), backlog=64)
    held = []
    threading.Thread(target=lambda: [held.append(hole.accept()) for _ in iter(int, 1)], daemon=True).start()
    endpoint = f"http://127.0.0.1:{hole.getsockname()[1]}"
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "20", "OTEL_METRICS_EXPORTER": "otlp",
           "OTEL_METRIC_EXPORT_INTERVAL": "20", "OTEL_LOGS_EXPORTER": "otlp", "OTEL_BLRP_SCHEDULE_DELAY": "20",
           "MLOBS_TELEMETRY_SHUTDOWN_S": "1"}  # a 30 s grace period would allow the default 5
    try:
        with UvicornApp("app:app", env, tmp_path / "out.log", app_dir=tmp_path) as service:
            with httpx.Client(base_url=service.url, timeout=5) as client:
                for i in range(50):
                    assert client.get(f"/v1/items/{i}").status_code == 200
            assert held  # the exporters did connect, and are waiting
            service.process.send_signal(signal.SIGTERM)
            service.process.wait(8)
    finally:
        hole.close()


def test_prometheus_gets_openmetrics_whose_exemplars_name_exported_traces(served):
    answers, _, _, sink = served
    scraped = answers["scraped"]
    assert scraped.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    exemplars = [s.exemplar for family in openmetrics_families(scraped.text) for s in family.samples
                 if s.exemplar is not None and s.name == "mlobs_http_request_duration_seconds_bucket"]
    assert exemplars
    assert {e.labels["trace_id"] for e in exemplars} <= sink.trace_ids()


def test_one_of_several_uvicorn_workers_says_at_start_that_its_metrics_are_its_own(tmp_path):
    (tmp_path / "app.py").write_text(USERS_APP)
    with UvicornApp("app:app", {}, tmp_path / "out.log", app_dir=tmp_path, args=("--workers", "2")) as service:
        deadline = time.monotonic() + 20
        while service.output().count("uvicorn workers on one port") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        warnings = [orjson.loads(line) for line in service.output().splitlines()
                    if "uvicorn workers on one port" in line]
    assert len(warnings) == 2  # one per worker
    assert all(w["level"] == "WARNING" and "one of 2 uvicorn workers" in w["message"] for w in warnings)


LIFESPAN_APP = '''
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from mlobs import ModelInfo, instrument


@asynccontextmanager
async def lifespan(app):
    logging.getLogger("churn").info("model loaded")
    yield
    logging.getLogger("churn").info("model unloaded")


app = FastAPI(lifespan=lifespan)
telemetry = instrument(app, ModelInfo(name="churn", version="7", training_data_hash="d", code_revision="c"))


@app.post("/score")
async def score():
    return {"churn_probability": 0.1}
'''


def test_an_app_with_its_own_lifespan_still_sends_its_last_metrics_and_logs_at_shutdown(tmp_path):
    """FastAPI runs no on_shutdown handler when the app has a lifespan (the documented way to load a
    model): the final export of metrics and log lines must not depend on one."""
    (tmp_path / "app.py").write_text(LIFESPAN_APP)
    with OtlpSink() as sink:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_METRICS_EXPORTER": "otlp",
               "OTEL_LOGS_EXPORTER": "otlp", "OTEL_METRIC_EXPORT_INTERVAL": "600000",
               "OTEL_BLRP_SCHEDULE_DELAY": "600000"}  # nothing leaves before the shutdown
        with UvicornApp("app:app", env, tmp_path / "out.log", app_dir=tmp_path) as service:
            assert httpx.post(f"{service.url}/score").status_code == 200
        lines = [orjson.loads(line) for line in service.output().splitlines() if line.startswith("{")]
        assert [line for line in lines if line["message"] == "model unloaded"]  # its lifespan ran
        durations = [m for m in sink.metrics if m.name == "http.server.request.duration"]
        assert sum(p.count for m in durations for p in m.histogram.data_points) == 1
        assert [r for r in sink.logs if r.body.string_value == "request"]
