"""The on-call receiver service (`mlobs serve oncall`).

    POST /alerts    Alertmanager's webhook (payload version 4); 200 once kept, 400/413 refused, 401 without
                    the token when one is set (MLOBS_ONCALL__TOKEN)
    POST /heartbeat the always-firing PagingHeartbeat, by the same webhook and token; counted, not kept
    GET  /heartbeat the last heartbeat and whether the paging path is silent (mlobs.oncall.heartbeat)
    GET  /pages     what arrived, oldest first; filters: alertname, status, severity, since (unix time)
    GET  /metrics   mlobs_oncall_notifications_total{alertname,severity,status}, heartbeats, paging path silent
    GET  /healthz, /readyz

Each notification is kept in memory (the last `keep`, within `keep_bytes`), written as one JSON log line,
and appended to a JSON-lines journal when `journal_path` is set (rotated past `journal_max_bytes`); started
again on its journal, the receiver lists what the journal holds (within the same bounds) before taking any.
Alertmanager retries a 5xx, so only a payload that can never be accepted gets a 4xx; a journal write that fails
gets a 500 with the page listed already, and the retry is journaled without being listed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic import ValidationError

from mlobs.oncall import catalog
from mlobs.oncall.heartbeat import HeartbeatWatch
from mlobs.oncall.payload import WebhookMessage, kept
from mlobs.oncall.journal_writer import JournalWriter
from mlobs.oncall.store import JournalError, NotificationStore
from mlobs.protect.body import body_within
from mlobs.tokens import bearer_matches, expected_bearer

log = logging.getLogger("mlobs.oncall")


class _Counters:
    def __init__(self, registry: CollectorRegistry):
        n, r = catalog.NOTIFICATIONS, catalog.REJECTED
        self.notifications = Counter(n.name, n.help, n.labels, registry=registry)
        self.rejected = Counter(r.name, r.help, r.labels, registry=registry)
        j = catalog.JOURNAL_FAILURES
        self.journal_failures = Counter(j.name, j.help, j.labels, registry=registry)
        self._names: set[str] = set()
        self._severities: set[str] = set()

    @staticmethod
    def _bounded(seen: set[str], value: str, bound: int) -> str:
        if value in seen or len(seen) < bound:
            seen.add(value)
            return value
        return catalog.OTHER

    def count(self, message: WebhookMessage, route_severity: str | None) -> None:
        for alert in message.alerts:
            name = self._bounded(self._names, alert.labels.get("alertname", ""), catalog.MAX_ALERTNAMES)
            severity = alert.labels.get("severity") or route_severity or catalog.NO_SEVERITY
            severity = self._bounded(self._severities, severity, catalog.MAX_SEVERITIES)
            self.notifications.labels(name, severity, alert.status).inc()


def _identity(message: WebhookMessage, severity: str | None) -> tuple:
    """What makes a retry of a notification the same notification."""
    return (message.groupKey, message.status, severity,
            tuple((a.fingerprint, a.status, a.startsAt, a.endsAt) for a in message.alerts))


def _refuse(counters: _Counters, reason: str, status: int, detail: object) -> JSONResponse:
    counters.rejected.labels(reason).inc()
    log.warning("on-call notification refused", extra={"fields": {"reason": reason}})
    return JSONResponse({"error": reason, "detail": detail}, status_code=status)


def create_app(settings, registry: CollectorRegistry | None = None) -> FastAPI:
    """settings: mlobs.settings.Settings (reads .oncall)."""
    registry = registry if registry is not None else CollectorRegistry()
    counters = _Counters(registry)
    oncall = settings.oncall
    store = NotificationStore(oncall.keep, oncall.journal_path, oncall.keep_bytes, oncall.journal_max_bytes)
    journal = JournalWriter(store, on_failure=counters.journal_failures.inc, timeout_s=oncall.journal_timeout_s)

    def page_own(message: WebhookMessage, received_at: float) -> None:
        """Keep a page the receiver raised itself; nobody would retry it, so a failed journal write only logs
        (listed all the same: the journal is the copy, not the page)."""
        notification = kept(message, "page", received_at)
        journal.write_later(store.list(notification))
        counters.count(message, "page")
        level = logging.ERROR if message.status == "firing" else logging.WARNING
        log.log(level, "on-call notification", extra={"fields": {"notification": notification}})

    watch = HeartbeatWatch(oncall.heartbeat_timeout_s, registry, page_own)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(watch.run()) if watch.enabled else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        journal.close()

    app = FastAPI(title="mlobs on-call receiver", lifespan=lifespan)
    app.state.store = store
    app.state.heartbeat = watch
    app.state.registry = registry

    expected = expected_bearer(oncall.token)
    if expected is None:
        log.warning("POST /alerts takes pages from anyone who reaches this port: set MLOBS_ONCALL__TOKEN here and "
                    "in Alertmanager's webhook_config unless only Alertmanager can reach it")

    async def received(request: Request) -> WebhookMessage | JSONResponse:
        """The webhook message posted, or the refusal to answer with."""
        if expected is not None and not bearer_matches(request.headers.get("authorization"), expected):
            return _refuse(counters, "unauthorized", 401, "a valid token is required (Authorization: Bearer)")
        body = await body_within(request, settings.oncall.max_body_bytes)
        if body is None:
            return _refuse(counters, "too_large", 413, f"body over {settings.oncall.max_body_bytes} bytes")
        try:
            return WebhookMessage.model_validate(orjson.loads(body))
        except orjson.JSONDecodeError as exc:
            return _refuse(counters, "not_json", 400, str(exc))
        except ValidationError as exc:
            return _refuse(counters, "not_webhook_v4", 400,
                           [{"loc": e["loc"], "msg": e["msg"]} for e in exc.errors(include_url=False)])

    @app.post("/alerts")
    async def alerts(request: Request, severity: str | None = Query(None)):
        message = await received(request)
        if isinstance(message, JSONResponse):
            return message
        notification = kept(message, severity, time.time())
        listed = store.list(notification, _identity(message, severity))
        try:
            await journal.write(listed)
        except JournalError as exc:
            # Listed already; a 5xx makes Alertmanager retry, and the retry is journaled, not listed again.
            counters.journal_failures.inc()
            if exc.new:
                counters.count(message, severity)
            log.error("on-call notification kept but not journaled", extra={"fields": {
                "error": str(exc), "notification": notification}})
            return JSONResponse({"error": "journal_failed", "detail": str(exc)}, status_code=500)
        if listed.new:
            counters.count(message, severity)
            log.info("on-call notification", extra={"fields": {"notification": notification}})
        return {"kept": len(message.alerts)}

    @app.post("/heartbeat")
    async def heartbeat(request: Request):
        message = await received(request)
        if isinstance(message, JSONResponse):
            return message
        if message.status != "firing":  # Alertmanager resolving the heartbeat is its absence, not a beat
            return {"heartbeat": False}
        watch.beat()
        return {"heartbeat": True}

    @app.get("/heartbeat")
    def heartbeat_state():
        return watch.state()

    @app.get("/pages")
    def pages(alertname: str | None = None, status: str | None = None, severity: str | None = None,
              since: float | None = None):
        return {"notifications": store.select(alertname, status, severity, since)}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        return {"status": "ready"}

    return app
