"""The acceptance checks: each asks a backend's HTTP API for something the stack promises, retrying until its
deadline, and says what it found."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import httpx

from mlobs import catalog, http_deadline
from mlobs.acceptance import responses
from mlobs.acceptance.responses import BackendError
from mlobs.oncall import catalog as oncall_catalog
from mlobs.stackgen import config, logql

DRIFT_ALERT = "EstimatedAccuracyDrop"  # the drift page: outputs drift and estimated accuracy falls


@dataclass
class Result:
    name: str
    ok: bool
    detail: str
    seconds: float = 0.0


@dataclass
class Backends:
    prometheus: str
    alertmanager: str
    oncall: str
    grafana: str | None = None
    grafana_token: str | None = None
    timeout: float = 10.0
    client: httpx.Client = field(init=False)

    def __post_init__(self):
        headers = {"authorization": f"Bearer {self.grafana_token}"} if self.grafana_token else {}
        self.client = http_deadline.client(timeout=self.timeout, headers=headers)

    def get(self, url: str, **params) -> object:
        # The whole answer within the timeout: a backend that hangs or drips a byte at a time fails the
        # attempt, and the check retries until its deadline, as for one that is down.
        with http_deadline.within(self.timeout):
            response = self.client.get(url, params=params)
        if response.status_code >= 400:
            raise BackendError(f"GET {response.request.url} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def prometheus_api(self, path: str, **params) -> object:
        return responses.prometheus_data(self.get(f"{self.prometheus}/api/v1/{path}", **params))

    def grafana_proxy(self, uid: str, path: str, **params) -> object:
        """A backend's API through Grafana's datasource proxy (what Grafana's own panels and links use)."""
        return self.get(f"{self.grafana}/api/datasources/proxy/uid/{uid}/{path.lstrip('/')}", **params)


def retry(name: str, deadline_s: float, attempt: Callable[[], str | None], every: float = 2.0) -> Result:
    """Call `attempt` until it returns a detail (success) or the deadline passes; the last error is the detail."""
    started = time.monotonic()
    last = "no answer yet"
    while True:
        try:
            found = attempt()
            if found is not None:
                return Result(name, True, found, time.monotonic() - started)
        except (BackendError, httpx.HTTPError, ValueError, KeyError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            last = "not found yet"
        if time.monotonic() - started >= deadline_s:
            return Result(name, False, f"after {deadline_s:.0f} s: {last}", time.monotonic() - started)
        time.sleep(every)


def series(b: Backends, services: list[str], deadline_s: float) -> Result:
    """Every scrape job up, and every model service's request histogram in Prometheus."""
    def attempt():
        up = {r["metric"].get("job") for r in b.prometheus_api("query", query="up == 1")["result"]}
        missing = [job for job in (*config.SCRAPE_JOBS, config.ONCALL_SERVICE) if job not in up]
        http = catalog.HTTP_REQUEST_DURATION.count
        have = {r["metric"].get(catalog.SERVICE) for r in
                b.prometheus_api("query", query=f"sum by ({catalog.SERVICE}) ({http})")["result"]}
        missing += [f"{http}{{service={s!r}}}" for s in services if s not in have]
        if missing:
            raise BackendError(f"missing: {', '.join(missing)}")
        return f"jobs up: {', '.join(sorted(j for j in up if j))}; requests recorded for {', '.join(services)}"
    return retry("prometheus series", deadline_s, attempt)


def exemplar(b: Backends, deadline_s: float, found: list[str]) -> Result:
    """An exemplar with a trace id on the request histogram; its id is kept for the trace and log checks."""
    def attempt():
        end = time.time()
        data = b.prometheus_api("query_exemplars", query=catalog.HTTP_REQUEST_DURATION.bucket,
                                start=end - 900, end=end)
        ids = responses.exemplar_trace_ids(data)
        if not ids:
            raise BackendError("no exemplar with a trace_id yet")
        found[:] = ids
        return f"{len(ids)} exemplars; newest trace id {ids[0]}"
    return retry("exemplar with trace id", deadline_s, attempt)


def tempo_trace(b: Backends, trace_ids: list[str], deadline_s: float) -> Result:
    """One of the exemplars' traces, fetched from Tempo through Grafana's datasource proxy."""
    def attempt():
        for trace_id in trace_ids[:10]:
            try:
                spans = responses.tempo_spans(b.grafana_proxy(config.TEMPO_UID, f"api/traces/{trace_id}"))
            except BackendError:
                continue  # not flushed to Tempo yet, or sampled out: try the next
            if spans and all(s["traceId"] == trace_id for s in spans):
                services = sorted({s["service"] or "?" for s in spans})
                return f"trace {trace_id}: {len(spans)} spans from {', '.join(services)}"
        raise BackendError(f"none of {len(trace_ids[:10])} exemplar trace ids found in Tempo")
    return retry("trace in Tempo (via Grafana)", deadline_s, attempt)


def loki_logs(b: Backends, trace_ids: list[str], deadline_s: float) -> Result:
    """Log lines carrying one of the exemplars' trace ids, from Loki through Grafana's datasource proxy."""
    def attempt():
        end_ns = time.time_ns()
        for trace_id in trace_ids[:10]:
            query = f'{{{logql.SERVICE_NAME}=~".+"}} |= "{trace_id}"'
            logql.lint(query)
            lines = responses.loki_lines(b.grafana_proxy(
                config.LOKI_UID, "loki/api/v1/query_range", query=query, start=end_ns - 900 * 10**9,
                end=end_ns, limit=20, direction="backward"))
            if lines:
                services = sorted({labels.get(logql.SERVICE_NAME, "?") for labels, _, _ in lines})
                return f"{len(lines)} log lines with trace id {trace_id} from {', '.join(services)}"
        raise BackendError(f"no log line with any of {len(trace_ids[:10])} exemplar trace ids")
    return retry("logs in Loki (via Grafana)", deadline_s, attempt)


def alertmanager_alert(b: Backends, deadline_s: float) -> Result:
    """The drift alert active in Alertmanager (Prometheus evaluated the rule and sent it)."""
    def attempt():
        alerts = b.get(f"{b.alertmanager}/api/v2/alerts", filter=f'alertname="{DRIFT_ALERT}"', active="true")
        if not alerts:
            raise BackendError(f"no active {DRIFT_ALERT} in Alertmanager")
        models = sorted({a["labels"].get(catalog.MODEL, "?") for a in alerts})
        return f"{len(alerts)} active {DRIFT_ALERT} alerts ({', '.join(models)})"
    return retry("drift alert in Alertmanager", deadline_s, attempt)


def page(b: Backends, shift_at: float, deadline_s: float) -> Result:
    """A firing drift page at the on-call receiver, received after the shift began."""
    def attempt():
        notes = b.get(f"{b.oncall}/pages", alertname=DRIFT_ALERT, status="firing", severity="page", since=shift_at)
        notes = notes["notifications"]
        if not notes:
            earlier = b.get(f"{b.oncall}/pages", alertname=DRIFT_ALERT, status="firing")["notifications"]
            hint = (f" (it holds {len(earlier)} from before the shift: an alert still firing from an earlier run "
                    "is not notified again until it resolves or its repeat interval passes)") if earlier else ""
            raise BackendError(f"no firing {DRIFT_ALERT} page at the on-call receiver{hint}")
        first = notes[0]
        models = sorted({a["labels"].get(catalog.MODEL, "?") for a in first["alerts"]})
        return f"{DRIFT_ALERT} ({', '.join(models)}) paged {first['received_at'] - shift_at:.0f} s after the shift"
    return retry("drift page at the on-call receiver", deadline_s, attempt, every=5.0)


def heartbeat(b: Backends, deadline_s: float) -> Result:
    """The paging path delivers: Alertmanager's PagingHeartbeat reached the receiver, which is not silent."""
    def attempt():
        state = b.get(f"{b.oncall}/heartbeat")
        if state["silent"]:
            raise BackendError(f"the receiver pages {oncall_catalog.SILENT_ALERT}: no heartbeat for over "
                               f"{state['timeout_s']:g} s (alerts/runbooks/{oncall_catalog.SILENT_RUNBOOK})")
        if state["last_heartbeat"] is None:
            raise BackendError("no PagingHeartbeat has reached the on-call receiver yet")
        return f"the last one {time.time() - state['last_heartbeat']:.0f} s ago"
    return retry("paging heartbeat at the on-call receiver", deadline_s, attempt, every=5.0)


def receiver_counted(b: Backends) -> Result:
    """The receiver's own counter saw the page (the metric the catalog names)."""
    text = b.client.get(f"{b.oncall}/metrics").text
    wanted = f'{oncall_catalog.NOTIFICATIONS.total}{{alertname="{DRIFT_ALERT}",severity="page",status="firing"}}'
    ok = wanted in text
    return Result("on-call counter", ok, wanted + (" present" if ok else " missing from /metrics"))
