"""What `make local` tells the terminal about pages: each firing drift page once, with the time since the shift,
and the receiver's own page when the paging path falls silent."""

from __future__ import annotations

import time

import httpx

from mlobs.local.rules import DRIFT_ALERT
from mlobs.oncall.catalog import SILENT_ALERT

TOLD = (DRIFT_ALERT, SILENT_ALERT)


class PageWatch:
    def __init__(self, receiver_url: str, shift_at: float | None, every: float = 2.0):
        self.receiver_url, self.shift_at, self.every = receiver_url, shift_at, every
        self.seen: set[tuple[str, str]] = set()  # (fingerprint, startsAt) of alerts already told
        self.first_page_after: float | None = None  # seconds from the shift to the first drift page
        self._next = 0.0

    def poll(self) -> list[str]:
        """Lines for pages not told yet (none between polls `every` seconds apart, or if the receiver fails)."""
        now = time.monotonic()
        if now < self._next:
            return []
        self._next = now + self.every
        try:
            response = httpx.get(f"{self.receiver_url}/pages", timeout=2,
                                 params={"status": "firing", "severity": "page"})
            notifications = response.json()["notifications"]
        except (httpx.HTTPError, ValueError, KeyError):
            return []
        return [line for n in notifications for line in self._tell(n)]

    def _tell(self, notification: dict) -> list[str]:
        out = []
        for alert in notification["alerts"]:
            key = (alert.get("fingerprint", ""), alert.get("startsAt", ""))
            name = alert["labels"].get("alertname")
            if name not in TOLD or alert["status"] != "firing" or key in self.seen:
                continue
            self.seen.add(key)
            labels = alert["labels"]
            if name == SILENT_ALERT:
                out.append(f"PAGE: {SILENT_ALERT}: {alert['annotations'].get('description', '')} "
                           f"{self.receiver_url}/heartbeat")
                continue
            after = ""
            if self.shift_at is not None:
                seconds = notification["received_at"] - self.shift_at
                if self.first_page_after is None:
                    self.first_page_after = seconds
                after = f" {seconds:.0f} s after the shift"
            detector = f" ({labels['detector']})" if labels.get("detector") else ""
            out.append(f"PAGE: {DRIFT_ALERT} {labels.get('model', '?')} {labels.get('model_version', '')}{detector} "
                       f"reached the on-call receiver{after}: {self.receiver_url}/pages")
        return out
