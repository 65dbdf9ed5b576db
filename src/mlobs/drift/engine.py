"""Windows of shipped samples per (service, model, version), and their evaluation in a worker thread.

Ingest only appends to a bounded window and, when the window is due, queues its key: fitting
detectors and running tests happen on the worker thread, never on the ingest request path.

The worker also retires streams a service has moved on from (another version of the model since,
and none of this one for retire_after_seconds): their windows go, and so do their series, which would
otherwise hold a retired version's last p-values and flags on /metrics until a restart.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry

from mlobs.drift import catalog
from mlobs.drift.calibration import load_calibration
from mlobs.drift.estimate import AccuracyEstimator
from mlobs.drift.plan import Planned, plan
from mlobs.drift.prior import Explanation, PriorShift, load_prior_shift
from mlobs.drift.reference import load_reference, reference_classes, reference_dir
from mlobs.drift.segments import Segments
from mlobs.drift.settings import DriftSettings
from mlobs.metrics import make

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # service, model, model_version


@dataclass
class _Window:
    samples: deque
    new: int = 0
    last_evaluation: float = field(default_factory=time.monotonic)
    queued: bool = False


@dataclass
class _Missing:
    reason: str
    retry_at: float


class DriftEngine:
    def __init__(self, settings: DriftSettings, artifacts_dir: Path, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.artifacts_dir = Path(artifacts_dir)
        self.every = settings.evaluate_every or settings.window_size
        self._windows: dict[Key, _Window] = {}
        self._streams: dict[Key, float] = {}  # monotonic time of each tracked stream's last batch
        self._retire_check_at = 0.0
        self._plans: dict[tuple[str, str], list[Planned] | _Missing] = {}
        self._estimators: dict[tuple[str, str], AccuracyEstimator] = {}
        self._priors: dict[tuple[str, str], PriorShift] = {}
        # Classes of each version's reference outputs (None: no reference or no outputs in it), and when to
        # read it again: never once the reference is loaded, else after reference_retry_seconds.
        self._classes: dict[tuple[str, str], tuple[int | None, float]] = {}
        self._segments = Segments(settings.segment_top_n)
        self._lock = threading.Lock()
        self._due: queue.Queue[Key | None] = queue.Queue()  # None wakes the worker to stop
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self.ready = threading.Event()  # set once the latest versions' detectors are fitted
        self._thread: threading.Thread | None = None
        self.m = {metric.name: make(metric, registry) for metric in catalog.EXPORTER_METRICS}

    # --- ingest path (request thread): O(samples), no detector work -------------------------------

    def admit(self, key: Key) -> bool:
        """Track a batch of this stream; False if it would be one stream more than max_streams."""
        with self._lock:
            new = key not in self._streams
            if new and len(self._streams) >= self.settings.max_streams:
                return False
            self._streams[key] = time.monotonic()
        if new:
            self._export_reference_state(key)
        return True

    def ingest(self, service: str, model: str, version: str, samples: list[dict]) -> int:
        known = self._plans.get((model, version))
        if isinstance(known, _Missing) and time.monotonic() < known.retry_at:
            dropped = self._metric(catalog.DRIFT_SAMPLES_DROPPED)
            dropped.labels(service, model, version, catalog.REASON_NO_REFERENCE).inc(
                len(samples)
            )
            return 0
        key = (service, model, version)
        with self._lock:
            self._streams[key] = time.monotonic()
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = _Window(deque(maxlen=self.settings.window_size))
            window.samples.extend(samples)
            window.new += len(samples)
            due = self._is_due(window, time.monotonic())
            if due:
                window.queued = True
                self._idle.clear()
                self._due.put(key)
        self._metric(catalog.DRIFT_SAMPLES_RECEIVED).labels(*key).inc(len(samples))
        return len(samples)

    def known_classes(self, model: str, version: str) -> tuple[bool, int | None]:
        """(known, classes) of the version's reference outputs, from the loaded reference or a recent
        read: no file I/O, so the event loop may call it."""
        classes, read_again_at = self._classes.get((model, version), (None, 0.0))
        return time.monotonic() < read_again_at, classes

    def read_classes(self, model: str, version: str) -> int | None:
        """The classes from the reference file's header: file I/O, so off the event loop."""
        classes = reference_classes(reference_dir(self.artifacts_dir, model, version))
        with self._lock:  # the evaluator may load the reference meanwhile: its count and expiry stay
            if not isinstance(self._plans.get((model, version)), list):
                self._classes[(model, version)] = (classes, time.monotonic() + self.settings.reference_retry_seconds)
        return classes

    def _is_due(self, window: _Window, now: float) -> bool:
        if window.queued or window.new == 0 or len(window.samples) < self.settings.min_window_samples:
            return False
        if window.new >= self.every:
            return True
        interval = self.settings.evaluation_interval_seconds
        return interval > 0 and now - window.last_evaluation >= interval

    # --- worker thread ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="mlobs-drift-evaluator", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._due.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_idle(self, timeout: float) -> bool:
        """True once every queued window has been evaluated (for tests and orderly shutdown)."""
        return self._idle.wait(timeout)

    def missing_references(self) -> dict[str, str]:
        return {f"{m}/{v}": p.reason for (m, v), p in self._plans.items() if isinstance(p, _Missing)}

    def references(self) -> list[str]:
        """model/version of every version whose reference is loaded and whose detectors are fitted."""
        return sorted(f"{m}/{v}" for (m, v), p in list(self._plans.items()) if isinstance(p, list))

    def windows(self) -> dict[str, int]:
        with self._lock:
            return {"/".join(k): len(w.samples) for k, w in self._windows.items()}

    def preload(self) -> None:
        """Fit the detectors of every model's latest version now rather than on its first window:
        a first fit (alibi import, embedding the reference) takes seconds, and samples arriving
        meanwhile would be overwritten in the waiting window."""
        for latest in sorted(self.artifacts_dir.glob("*/LATEST")):
            model, version = latest.parent.name, latest.read_text().strip()
            if (reference_dir(self.artifacts_dir, model, version) / "reference.npz").exists():
                self._plan(model, model, version)
        self.ready.set()

    def _run(self) -> None:
        tick = 0.5
        try:
            self.preload()
        except Exception:
            log.exception("preloading drift references failed; they load on first use")
            self.ready.set()
        while not self._stop.is_set():
            self._retire_idle(time.monotonic())
            try:
                key = self._due.get(timeout=tick)
            except queue.Empty:
                self._queue_by_cadence()
                continue
            if key is None:
                break
            try:
                self.evaluate(key)
            except Exception:  # the worker must survive anything a window holds
                log.exception("drift evaluation of %s failed", key)
            finally:
                with self._lock:
                    self._windows[key].queued = False
                    if self._due.empty():
                        self._idle.set()

    def _queue_by_cadence(self) -> None:
        if self.settings.evaluation_interval_seconds <= 0:
            return
        now = time.monotonic()
        with self._lock:
            due = [k for k, w in self._windows.items() if self._is_due(w, now)]
            for key in due:
                self._windows[key].queued = True
                self._idle.clear()
                self._due.put(key)

    def _retire_idle(self, now: float) -> None:
        after = self.settings.retire_after_seconds
        if after <= 0 or now < self._retire_check_at:
            return
        self._retire_check_at = now + min(after / 10, 5.0)
        with self._lock:
            newest: dict[tuple[str, str], float] = {}  # (service, model) -> its latest batch of any version
            for (service, model, _), seen in self._streams.items():
                newest[(service, model)] = max(newest.get((service, model), seen), seen)
            retired = [key for key, seen in self._streams.items()
                       if now - seen >= after and newest[key[:2]] > seen
                       and not (key in self._windows and self._windows[key].queued)]
            for key in retired:
                self._retire(key)

    def _retire(self, key: Key) -> None:
        """Forget the stream and its series (under the lock, so no batch of it lands in between); its version's
        reference, once no stream uses it, is loaded again if one comes back."""
        service, model, version = key
        del self._streams[key]
        self._windows.pop(key, None)
        self._segments.forget(key)
        labels = dict(zip(catalog.MODEL_LABELS, key))
        for metric in catalog.EXPORTER_METRICS:
            if metric.labels[:len(catalog.MODEL_LABELS)] == catalog.MODEL_LABELS:
                self._metric(metric).remove_by_labels(labels)
        if not any(k[1:] == (model, version) for k in self._streams):
            for held in (self._plans, self._estimators, self._priors, self._classes):
                held.pop((model, version), None)
        self._metric(catalog.DRIFT_STREAMS_RETIRED).inc()
        log.info("retired drift stream %s: no batch for %.0f s and a newer version of %s since",
                 "/".join(key), self.settings.retire_after_seconds, model)

    def evaluate(self, key: Key) -> None:
        service, model, version = key
        with self._lock:
            window = self._windows[key]
            samples = list(window.samples)
            window.new = 0
            window.last_evaluation = time.monotonic()
            if self.every >= self.settings.window_size:
                window.samples.clear()  # non-overlapping windows: each test sees fresh samples
        planned = self._plan(service, model, version)
        if planned is None:
            self._metric(catalog.DRIFT_SAMPLES_DROPPED).labels(*key, catalog.REASON_NO_REFERENCE).inc(len(samples))
            return
        windows: dict[int, np.ndarray] = {}  # by extractor: the detectors reading one field share its window
        results = {p.detector.name: self._evaluate_one(key, p, samples, windows) for p in planned}
        outputs = next((p for p in planned if p.field == "probs"), None)
        probs = windows.get(id(outputs.extract)) if outputs is not None else None
        if probs is not None:  # the outputs as the detectors saw them, so the same rows left out
            explanation = self._explain_prior(key, planned, samples, results, probs)
            self._estimate(key, probs, explanation)
        self._evaluate_segments(key, planned, samples)

    def _evaluate_segments(self, key: Key, planned: list[Planned], samples: list[dict]) -> None:
        if self.settings.segment_top_n <= 0:
            return
        self._segments.count(key, samples)
        chosen = [p for p in planned if p.detector.name in self.settings.segment_detectors]
        for segment, group in self._segments.split(key, samples).items():
            for p in chosen:
                try:
                    window = p.extract(group)
                    if len(window) < self.settings.min_window_samples:
                        continue
                    results = p.decide(p.detector.score(window), len(window))
                except Exception as exc:
                    log.warning("segment drift %s failed on %s/%s: %s", p.detector.name, "/".join(key), segment, exc)
                    continue
                labels = (*key, p.detector.name, segment)
                self._metric(catalog.SEGMENT_DRIFT_P_VALUE).labels(*labels).set(min(r.p_value for r in results))
                self._metric(catalog.SEGMENT_DRIFT_DETECTED).labels(*labels).set(int(any(r.drift for r in results)))
                self._metric(catalog.SEGMENT_DRIFT_EVALUATIONS).labels(*labels).inc()

    def _estimate(self, key: Key, probs: np.ndarray, explanation: Explanation | None = None) -> None:
        """CBPE, or for a window whose input change the class mix explains, the accuracy that mix gives."""
        estimator = self._estimators.get(key[1:])
        if estimator is None:
            return
        try:
            if len(probs) < self.settings.min_window_samples:
                return
            if explanation is not None and explanation.explains:
                estimate = self._priors[key[1:]].estimator.accuracy(explanation.estimate, probs)
            else:
                estimate = estimator.estimate(probs)
        except Exception as exc:
            log.warning("accuracy estimate failed on %s: %s", "/".join(key), exc)
            return
        self._metric(catalog.ESTIMATED_ACCURACY).labels(*key).set(estimate.accuracy)
        self._metric(catalog.ESTIMATED_ACCURACY_LOWER).labels(*key).set(estimate.lower)
        self._metric(catalog.ESTIMATED_ACCURACY_UPPER).labels(*key).set(estimate.upper)
        self._metric(catalog.ESTIMATED_ACCURACY_BASELINE).labels(*key).set(estimator.baseline)

    def _explain_prior(self, key: Key, planned: list[Planned], samples: list[dict], results: dict,
                       probs: np.ndarray) -> Explanation | None:
        prior = self._priors.get(key[1:])
        if prior is None:
            return None
        try:
            if len(probs) < self.settings.min_window_samples:
                return None
            explanation = prior.explain(planned, samples, {k: v for k, v in results.items() if v is not None}, probs)
        except Exception as exc:
            log.warning("class-prior estimate failed on %s: %s", "/".join(key), exc)
            return None
        for cls, share in zip(prior.classes, explanation.estimate.shares):
            self._metric(catalog.ESTIMATED_CLASS_SHARE).labels(*key, cls).set(float(share))
            self._metric(catalog.REFERENCE_CLASS_SHARE).labels(*key, cls).set(float(prior.reference_share(cls)))
        self._metric(catalog.PRIOR_SHIFT_EXPLAINS_INPUT).labels(*key).set(int(explanation.explains))
        return explanation

    def _window(self, key: Key, p: Planned, samples: list[dict], windows: dict[int, np.ndarray]) -> np.ndarray:
        """The detector's window array, extracted once per extractor; the rows an extraction left out (not
        shaped as the reference's) are counted once."""
        window = windows.get(id(p.extract))
        if window is None:
            window = windows[id(p.extract)] = p.extract(samples)
            if p.field is not None:
                left_out = sum(1 for s in samples if s.get(p.field) is not None) - len(window)
                if left_out:
                    dropped = self._metric(catalog.DRIFT_SAMPLES_DROPPED)
                    dropped.labels(*key, catalog.REASON_INVALID_SAMPLE).inc(left_out)
        return window

    def _evaluate_one(self, key: Key, p: Planned, samples: list[dict], windows: dict[int, np.ndarray]) -> list | None:
        """Run one detector on the window and export its results; returns them as decided (None if not run)."""
        name = p.detector.name
        labels = (*key, name)
        try:
            window = self._window(key, p, samples, windows)
            if len(window) < self.settings.min_window_samples:
                return None
            started = time.perf_counter()
            results = p.decide(p.detector.score(window), len(window))
            elapsed = time.perf_counter() - started
        except Exception as exc:
            self._metric(catalog.DRIFT_EVALUATION_ERRORS).labels(*labels).inc()
            log.warning("drift detector %s failed on %s: %s", name, "/".join(key), exc)
            return None
        for r in results:
            self._metric(catalog.DRIFT_P_VALUE).labels(*labels, r.feature).set(r.p_value)
            self._metric(catalog.DRIFT_STATISTIC).labels(*labels, r.feature).set(r.statistic)
            self._metric(catalog.DRIFT_THRESHOLD).labels(*labels, r.feature).set(r.threshold)
            self._metric(catalog.DRIFT_DETECTED).labels(*labels, r.feature).set(1 if r.drift else 0)
        self._metric(catalog.DRIFT_WINDOW_SAMPLES).labels(*labels).set(len(window))
        self._metric(catalog.DRIFT_EVALUATION_DURATION).labels(*labels).observe(elapsed)
        self._metric(catalog.DRIFT_EVALUATIONS).labels(*labels).inc()
        self._metric(catalog.DRIFT_LAST_EVALUATION).labels(*labels).set(time.time())
        return results

    def _plan(self, service: str, model: str, version: str) -> list[Planned] | None:
        cached = self._plans.get((model, version))
        if isinstance(cached, list):
            return cached
        if isinstance(cached, _Missing) and time.monotonic() < cached.retry_at:
            return None
        try:
            directory = reference_dir(self.artifacts_dir, model, version)
            calibration = load_calibration(directory)
            reference = load_reference(directory)
            planned = plan(reference, self.settings, calibration)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.error("no drift tests for %s/%s: %s", model, version, reason)
            self._plans[(model, version)] = _Missing(reason, time.monotonic() + self.settings.reference_retry_seconds)
            self._export_reference_state((service, model, version))
            return None
        probs = reference.get("probs")
        with self._lock:  # the plan and its class count together, as read_classes checks them
            self._plans[(model, version)] = planned
            self._classes[(model, version)] = (int(probs.shape[1]) if probs is not None and probs.ndim == 2
                                               else None, float("inf"))
        if calibration is not None and calibration.estimator is not None:
            self._estimators[(model, version)] = calibration.estimator
        prior = load_prior_shift(directory, reference, planned)
        if prior is not None:
            self._priors[(model, version)] = prior
        self._export_reference_state((service, model, version))
        return planned

    def _export_reference_state(self, key: Key) -> None:
        """The stream's series of its version's reference: missing or not, and the calibration's target. Set when
        the reference loads, and for a stream that arrives after (another service, or one retired and back)."""
        planned = self._plans.get(key[1:])
        if planned is None:
            return
        self._metric(catalog.DRIFT_REFERENCE_MISSING).labels(*key).set(int(isinstance(planned, _Missing)))
        calibration = planned[0].calibration if isinstance(planned, list) and planned else None
        if calibration is not None and calibration.target is not None:
            self._metric(catalog.DRIFT_CALIBRATION_TARGET).labels(*key, calibration.method).set(calibration.target)

    def _metric(self, metric):
        return self.m[metric.name]
