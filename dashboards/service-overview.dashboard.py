"""Service overview: traffic, errors and latency (with exemplars to traces) by model version, and whether a
page can reach on-call at all."""

from grafanalib import core as g

from mlobs import catalog as c
from mlobs.oncall import catalog as oncall
from mlobs.stackgen import config
from mlobs.stackgen.dashboards import RATE, dashboard as make, grid, prom, q, row, stat, table, timeseries
from mlobs.stackgen.paging_alerts import FAILED
from mlobs.stackgen.promql import ratio

HTTP, INF = c.HTTP_REQUEST_DURATION, c.INFERENCE_DURATION
V = f"{c.SERVICE}, {c.MODEL_VERSION}"
PREDICT = f'route="{config.PREDICT_ROUTE}"'
ERRORS = 'status=~"5.."'


def quantile(p: float, metric, *extra: str) -> str:
    return f"histogram_quantile({p}, sum by (le, {V}) (rate({q(metric, *extra, series=metric.bucket)}[{RATE}])))"


dashboard = make("service-overview", "mlobs / Service overview", tags=("service",), panels=grid([
    [row("Traffic and errors")],
    [timeseries("Request rate by route and status",
                prom(f"sum by ({c.SERVICE}, route, status) (rate({q(HTTP, series=HTTP.count)}[{RATE}]))",
                     "{{service}} {{route}} {{status}}"), unit="reqps"),
     timeseries("5xx ratio by model version",
                prom(ratio(f"sum by ({V}) (rate({q(HTTP, ERRORS, series=HTTP.count)}[{RATE}]))",
                           f"sum by ({V}) (rate({q(HTTP, series=HTTP.count)}[{RATE}]))"),
                     "{{service}} {{model_version}}"), unit="percentunit")],
    [row("Latency")],
    [timeseries(f"{config.PREDICT_ROUTE} latency p50 / p90 / p99 (exemplars link to traces)",
                prom(quantile(0.5, HTTP, PREDICT), "p50 {{service}} {{model_version}}"),
                prom(quantile(0.9, HTTP, PREDICT), "p90 {{service}} {{model_version}}"),
                prom(quantile(0.99, HTTP, PREDICT), "p99 {{service}} {{model_version}}", exemplar=True),
                unit="s", description="SLO: 99.9% under 200 ms. Click an exemplar dot to open its trace in Tempo."),
     timeseries("Inference latency p50 / p99",
                prom(quantile(0.5, INF), "p50 {{service}} {{model_version}}"),
                prom(quantile(0.99, INF), "p99 {{service}} {{model_version}}", exemplar=True), unit="s")],
    [row("Inputs and telemetry")],
    [timeseries("Rejected inputs by reason",
                prom(f"sum by ({c.SERVICE}, reason) (rate({q(c.REJECTED_INPUTS, series=c.REJECTED_INPUTS.total)}"
                     f"[{RATE}]))", "{{service}} {{reason}}"), unit="reqps"),
     timeseries("Telemetry dropped by signal",
                prom(f"sum by ({c.SERVICE}, signal) (rate({q(c.TELEMETRY_DROPPED, series=c.TELEMETRY_DROPPED.total)}"
                     f"[{RATE}]))", "{{service}} {{signal}}"), unit="short",
                description="Spans and log lines dropped so inference never waits."),
     table("Models in service",
           prom(f"max by ({c.SERVICE}, {c.MODEL}, {c.MODEL_VERSION}, training_data_hash, code_revision) "
                f"({q(c.MODEL_INFO)})", instant=True))],
    [row("Paging path")],
    [stat("Since the last heartbeat at the on-call receiver",
          prom(f"time() - max({oncall.LAST_HEARTBEAT.name})", instant=True), unit="s", decimals=0,
          thresholds=[g.Threshold("green", 0, 0.0), g.Threshold("red", 1, 300.0)],
          description=f"{config.HEARTBEAT_ALERT} arrives about once a minute; past 300 s the receiver pages "
                      f"{oncall.SILENT_ALERT} itself (alerts/runbooks/paging-path.md)."),
     stat("On-call receiver paging that the path is silent",
          prom(f"max({oncall.PAGING_PATH_SILENT.name})", instant=True), decimals=0,
          thresholds=[g.Threshold("green", 0, 0.0), g.Threshold("red", 1, 1.0)]),
     timeseries("Alertmanager notifications failed by integration",
                prom(f"sum by (integration) (rate({FAILED}[{RATE}]))", "{{integration}}"), unit="short",
                description="Notifications Alertmanager could not deliver after its retries: each is a lost page "
                            "or ticket (AlertmanagerNotificationsFailing).")],
]))
