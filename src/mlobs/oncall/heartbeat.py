"""The paging path's dead man's switch, at the receiving end.

Prometheus keeps one alert, PagingHeartbeat, always firing; Alertmanager sends it to POST /heartbeat about
once a minute by the same webhook, token and network as every page. When it stops arriving, something on
that path broke (Prometheus or its rule evaluation down, Alertmanager down or misrouted, the token file
missing or wrong), and every page with it. No alert about that can travel the broken path, so the receiver
raises the page itself (`page`, the receiver's: into /pages, the journal, the counter and the log), resolved
when heartbeats come back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Gauge

from mlobs.oncall import catalog
from mlobs.oncall.payload import WebhookAlert, WebhookMessage
from mlobs.stackgen import config

log = logging.getLogger("mlobs.oncall")

RECEIVER = "mlobs-oncall"  # the notification's receiver field: the receiver itself, not an Alertmanager route


class HeartbeatWatch:
    def __init__(self, timeout_s: float, registry: CollectorRegistry, page, clock=time.time):
        """`page(message, received_at)`: keep a notification the receiver raised itself."""
        self.timeout_s = timeout_s
        self._page, self._clock = page, clock
        self.started_at = clock()
        self.last: float | None = None
        self.silent_since: float | None = None
        self._lock = threading.Lock()  # one page per silence, whichever thread looks first
        self._beats = Counter(catalog.HEARTBEATS.name, catalog.HEARTBEATS.help, registry=registry)
        self._silent = Gauge(catalog.PAGING_PATH_SILENT.name, catalog.PAGING_PATH_SILENT.help, registry=registry)
        self._last = Gauge(catalog.LAST_HEARTBEAT.name, catalog.LAST_HEARTBEAT.help, registry=registry)

    @property
    def enabled(self) -> bool:
        return self.timeout_s > 0

    def beat(self) -> None:
        with self._lock:
            now, before = self._clock(), self.last
            self.last = now
            self._beats.inc()
            self._last.set(now)
            if self.silent_since is not None:
                self._raise("resolved", now, before)

    def check(self) -> None:
        """Raise the page once the heartbeat is overdue (counted from start until the first one arrives)."""
        if not self.enabled:
            return
        with self._lock:
            now = self._clock()
            overdue = now - (self.last if self.last is not None else self.started_at) > self.timeout_s
            if overdue and self.silent_since is None:
                self._raise("firing", now, self.last)

    def state(self) -> dict:
        return {"timeout_s": self.timeout_s, "last_heartbeat": self.last, "silent": self.silent_since is not None,
                "silent_since": self.silent_since}

    def _raise(self, status: str, now: float, last: float | None) -> None:
        """`last`: the heartbeat before the silence (None: none since start)."""
        firing = status == "firing"
        starts_at = now if firing else self.silent_since
        self.silent_since = now if firing else None
        self._silent.set(1 if firing else 0)
        self._page(_message(status, starts_at, now, last, self.timeout_s), now)

    async def run(self) -> None:
        """Check every few seconds until cancelled."""
        every = min(5.0, max(self.timeout_s / 4, 0.05))
        while True:
            await asyncio.sleep(every)
            try:
                self.check()
            except Exception:  # the watch must outlive any one failure, or the silence it guards goes unseen
                log.exception("heartbeat check failed")


def _iso(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


def _message(status: str, starts_at: float, now: float, last: float | None, timeout_s: float) -> WebhookMessage:
    since = f"since {_iso(last)}" if last is not None else "since the receiver started"
    labels = {"alertname": catalog.SILENT_ALERT, "severity": "page"}
    annotations = {
        "summary": "No page can reach on-call: the PagingHeartbeat stopped arriving",
        "description": f"No PagingHeartbeat {since} (bound {timeout_s:g} s). Prometheus, its rule evaluation, "
                       "Alertmanager, or the token and network between Alertmanager and this receiver has "
                       "stopped delivering, and every other page with it.",
        "runbook_url": f"{config.RUNBOOK_BASE_URL}/{catalog.SILENT_RUNBOOK}"}
    alert = WebhookAlert(status=status, labels=labels, annotations=annotations, startsAt=_iso(starts_at),
                         endsAt=_iso(now) if status == "resolved" else "")
    return WebhookMessage(version="4", groupKey=f"{RECEIVER}/{catalog.SILENT_ALERT}", status=status,
                          receiver=RECEIVER, groupLabels={"alertname": catalog.SILENT_ALERT}, commonLabels=labels,
                          commonAnnotations=annotations, alerts=[alert])
