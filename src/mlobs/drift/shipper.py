"""Ships samples of a model service's inputs and outputs to the drift exporter, off the request path.

offer() is O(1), never blocks and never raises: it samples, then puts into a bounded queue. A
background thread batches and POSTs with a short timeout. Anything that cannot be delivered
(full queue, exporter down, shutdown) is dropped and counted in mlobs_drift_samples_dropped_total.

The timeout bounds the whole POST, not each read: an exporter that answers a byte at a time, each
within a read timeout, would otherwise hold the thread for as long as its answer lasts. At the
deadline the connection's socket is shut down, which ends a read blocked on it. One watchdog thread
per shipper, started with it, keeps that deadline: a POST only arms and disarms it, so shipping
starts no thread per batch.
"""

from __future__ import annotations

import logging
import queue
import random
import socket
import threading
import time
import weakref
from typing import Any

import httpx
import orjson
from prometheus_client import REGISTRY, CollectorRegistry

from mlobs.drift import catalog
from mlobs.drift.settings import DriftSettings
from mlobs.metrics import make

log = logging.getLogger(__name__)

_instruments: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_instruments_lock = threading.Lock()
_MAX_BACKOFF_SECONDS = 5.0


def _metrics(registry: CollectorRegistry) -> tuple[Any, Any]:
    # Several shippers (or a restarted one in tests) may share a registry; register once.
    with _instruments_lock:
        if registry not in _instruments:
            _instruments[registry] = (
                make(catalog.DRIFT_SAMPLES_DROPPED, registry),
                make(catalog.DRIFT_SAMPLES_SHIPPED, registry),
            )
        return _instruments[registry]


def _encode_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays of dtypes orjson lacks, numpy scalars, torch tensors
        return value.tolist()
    raise TypeError(f"cannot ship a value of type {type(value).__name__}")


def ingest_url(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/ingest") else url + "/ingest"


class _Watchdog:
    """Calls `cut` when an armed deadline passes before it is disarmed. One thread for the life of the
    shipper; arm() and disarm() only take a lock and notify it."""

    def __init__(self, cut, name: str) -> None:
        self._cut = cut
        self._deadline: float | None = None
        self._closed = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def arm(self, seconds: float) -> None:
        with self._changed:
            self._deadline = time.monotonic() + seconds
            self._changed.notify()

    def disarm(self) -> None:
        with self._changed:
            self._deadline = None

    def close(self) -> None:
        """Stop; a POST still in flight is cut now, since nothing would bound it after."""
        with self._changed:
            self._closed = True
            if self._deadline is not None:
                self._deadline = None
                self._cut()
            self._changed.notify()
        self._thread.join(1.0)

    def _run(self) -> None:
        with self._changed:
            while not self._closed:
                if self._deadline is None:
                    self._changed.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._changed.wait(left)
                    continue
                self._deadline = None
                try:
                    self._cut()  # under the lock: a POST that has disarmed meanwhile is never cut
                except Exception:
                    log.debug("cutting a late drift POST failed", exc_info=True)


class DriftShipper:
    def __init__(
        self,
        url: str,
        model: str,
        model_version: str,
        sample_rate: float = 1.0,
        batch_size: int = 64,
        queue_size: int = 2_048,
        timeout: float = 0.5,
        *,
        service: str | None = None,
        registry: CollectorRegistry | None = None,
        flush_interval: float = 1.0,
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
        token: str | None = None,
    ) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError(f"sample_rate must be in [0, 1], got {sample_rate}")
        if batch_size <= 0 or queue_size <= 0 or timeout <= 0:
            raise ValueError("batch_size, queue_size and timeout must be positive")
        self.url = ingest_url(url)
        self.service = service or model
        self.model = model
        self.model_version = model_version
        self.sample_rate = sample_rate
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._random = random.Random(seed).random
        self._closed = False
        self._stop = threading.Event()
        self._backoff = 0.0
        self._retry_at = 0.0
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._client = httpx.Client(timeout=timeout, transport=transport, headers=headers)
        self.timeout = timeout
        self._socket: socket.socket | None = None  # the connection's socket, cut when a POST passes its deadline
        self._watchdog = _Watchdog(self._cut, name=f"mlobs-drift-shipper-watchdog-{model}")
        dropped, shipped = _metrics(registry if registry is not None else REGISTRY)
        labels = (self.service, model, model_version)
        self._dropped = {
            reason: dropped.labels(*labels, reason)
            for reason in (catalog.REASON_QUEUE_FULL, catalog.REASON_EXPORT_FAILED, catalog.REASON_CLOSED)
        }
        self._shipped = shipped.labels(*labels)
        self._thread = threading.Thread(target=self._run, name=f"mlobs-drift-shipper-{model}", daemon=True)
        self._thread.start()

    @classmethod
    def from_settings(
        cls,
        settings: DriftSettings,
        *,
        service: str,
        model: str,
        model_version: str,
        registry: CollectorRegistry | None = None,
    ) -> "DriftShipper | None":
        """None when shipping is off (no exporter URL)."""
        if not settings.exporter_url:
            return None
        return cls(
            settings.exporter_url,
            model,
            model_version,
            sample_rate=settings.sample_rate,
            batch_size=settings.batch_size,
            queue_size=settings.queue_size,
            timeout=settings.timeout_seconds,
            service=service,
            registry=registry,
            flush_interval=settings.flush_interval_seconds,
            token=settings.ingest_token.get_secret_value() if settings.ingest_token else None,
        )

    def offer(self, sample: dict) -> None:
        """Maybe ship this sample: {"probs": ..., "image": ..., "text": ..., "features": {...}}.
        Values may be lists or numpy arrays; they are serialised on the background thread."""
        try:
            if self._closed:
                self._dropped[catalog.REASON_CLOSED].inc()
                return
            if self.sample_rate < 1.0 and self._random() >= self.sample_rate:
                return
            self._queue.put_nowait(sample)
        except queue.Full:
            self._dropped[catalog.REASON_QUEUE_FULL].inc()
        except Exception:  # telemetry must never break inference
            pass

    def close(self, timeout: float = 2.0) -> None:
        """Stop accepting samples and flush what is queued, for at most `timeout` seconds."""
        self._closed = True
        self._stop.set()
        self._thread.join(timeout)
        self._watchdog.close()
        self._drop_rest(catalog.REASON_CLOSED)
        self._client.close()

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch:
                self._send(batch)
            elif self._stop.is_set():
                return

    def _next_batch(self) -> list[dict]:
        batch: list[dict] = []
        deadline = time.monotonic() + self.flush_interval
        while len(batch) < self.batch_size:
            wait = deadline - time.monotonic()
            if self._stop.is_set():
                wait = 0.0  # flushing: take what is there, do not wait for more
            try:
                batch.append(self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _send(self, batch: list[dict]) -> None:
        if time.monotonic() < self._retry_at:
            self._dropped[catalog.REASON_EXPORT_FAILED].inc(len(batch))
            return
        try:
            body = orjson.dumps(
                {"service": self.service, "model": self.model, "model_version": self.model_version, "samples": batch},
                default=_encode_default,
                option=orjson.OPT_SERIALIZE_NUMPY,
            )
            self._watchdog.arm(self.timeout)
            try:
                response = self._client.post(self.url, content=body, extensions={"trace": self._trace})
            finally:
                self._watchdog.disarm()
            response.raise_for_status()
        except Exception as exc:
            self._dropped[catalog.REASON_EXPORT_FAILED].inc(len(batch))
            self._backoff = min(max(self._backoff * 2, 0.25), _MAX_BACKOFF_SECONDS)
            self._retry_at = time.monotonic() + self._backoff
            log.debug("drift shipper dropped %d samples: %s", len(batch), exc)
            return
        self._backoff = 0.0
        self._shipped.inc(len(batch))

    def _trace(self, event: str, info: dict) -> None:
        if event == "connection.connect_tcp.complete" and info.get("return_value") is not None:
            self._socket = info["return_value"].get_extra_info("socket")

    def _cut(self) -> None:
        sock = self._socket
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _drop_rest(self, reason: str) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return
            self._dropped[reason].inc()
