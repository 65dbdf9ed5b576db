"""A fake sentiment service on a real uvicorn server, and a scripted workload for the runner."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from mlobs.traffic.workload import Request


@dataclass
class FakeSentiment:
    """Follows the sentiment HTTP API closely enough for the traffic generator."""

    predictions: list[dict] = field(default_factory=list)
    feedback: list[dict] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)

    def _error(self, status: int, code: str) -> JSONResponse:
        self.rejected.append(status)
        return JSONResponse({"error": {"code": code, "message": code}}, status_code=status)

    async def healthz(self, request: HttpRequest) -> JSONResponse:
        return JSONResponse({"status": "ok", "model": "sentiment", "model_version": "test"})

    async def predict(self, request: HttpRequest) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self._error(400, "invalid_json")
        request_id = f"req-{len(self.predictions)}"
        if isinstance(body.get("texts"), list) and all(isinstance(t, str) for t in body["texts"]):
            if not 1 <= len(body["texts"]) <= 64:
                return self._error(422, "batch_too_large")
            self.predictions.append({"request_id": request_id, "body": body})
            preds = [{"label": "neutral", "probability": 0.5} for _ in body["texts"]]
            return JSONResponse({"request_id": request_id, "model": "sentiment", "predictions": preds})
        text = body.get("text")
        if not isinstance(text, str):
            return self._error(422, "wrong_type")
        if not text or len(text) > 5000:
            return self._error(422, "bad_length")
        self.predictions.append({"request_id": request_id, "body": body})
        return JSONResponse({"request_id": request_id, "model": "sentiment", "label": "neutral", "probability": 0.5})

    async def post_feedback(self, request: HttpRequest) -> JSONResponse:
        body = await request.json()
        self.feedback.append(body)
        known = {p["request_id"] for p in self.predictions}
        if body.get("request_id") not in known:
            return self._error(404, "unknown_request_id")
        return JSONResponse({"outcome": "correct"})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/healthz", self.healthz),
            Route("/predict", self.predict, methods=["POST"]),
            Route("/feedback", self.post_feedback, methods=["POST"]),
        ])


@pytest.fixture
def fake_sentiment():
    """(base URL, FakeSentiment) served by uvicorn on a free loopback port in a thread."""
    fake = FakeSentiment()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fake.app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake service did not start")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}", fake
    server.should_exit = True
    thread.join(5)
    sock.close()


@pytest.fixture
def closed_port_url():
    """A loopback URL where nothing listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@dataclass
class ScriptedWorkload:
    """Sends `paths` in turn; single predictions carry `truth` so feedback can follow."""

    scenario: str = "normal"
    paths: tuple[str, ...] = ("/predict",)
    truth: str | None = "positive"
    _i: int = 0

    def next_request(self, rng) -> Request:
        path = self.paths[self._i % len(self.paths)]
        self._i += 1
        return Request("POST", path, json={"scenario": self.scenario}, truth=self.truth, kind="single")

    def feedback(self, response_json, truth) -> Request | None:
        return Request("POST", "/feedback", json={"request_id": response_json["request_id"], "label": truth},
                       kind="feedback")


@pytest.fixture
def scripted_workload():
    return ScriptedWorkload
