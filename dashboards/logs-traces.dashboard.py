"""Logs and traces: service logs from Loki (trace ids link to Tempo) and a Tempo trace search.
Needs Loki and Tempo (the compose stack); its panels are empty against Prometheus alone."""

from grafanalib import core as g

from mlobs import catalog as c
from mlobs.stackgen.dashboards import LOKI, TEMPO, dashboard as make, grid, row, timeseries
from mlobs.stackgen.logql import SERVICE_NAME

# Loki's stream label is service_name (from the resource attribute service.name: mlobs.stackgen.logql), and
# the dashboard's $service variable has the same values, so one variable filters metrics, logs and traces.
SERVICE = f'{SERVICE_NAME}=~"${c.SERVICE}"'
logs = {"datasource": LOKI, "expr": f'{{{SERVICE}}} | json', "queryType": "range"}
errors = {"datasource": LOKI,
          "expr": f'sum by ({SERVICE_NAME}) (count_over_time({{{SERVICE}}} | json | status >= 500 [5m]))',
          "queryType": "range", "legendFormat": f"{{{{{SERVICE_NAME}}}}}"}
traces = {"datasource": TEMPO, "queryType": "traceql", "limit": 50,
          "query": f'{{resource.service.name=~"${c.SERVICE}"}}'}
slow = {"datasource": TEMPO, "queryType": "traceql", "limit": 50,
        "query": f'{{resource.service.name=~"${c.SERVICE}" && duration > 200ms}}'}

dashboard = make("logs-traces", "mlobs / Logs and traces", tags=("logs", "traces"), panels=grid([
    [row("Logs (Loki): expand a line and follow its trace_id to Tempo")],
    [timeseries("5xx log lines", errors, ds=LOKI)],
    [g.Logs(title="Service logs", dataSource=LOKI, targets=[{**logs, "refId": "A"}], showTime=True,
            wrapLogMessages=True, enableLogDetails=True)],
    [row("Traces (Tempo)")],
    [g.Table(title="Recent traces", dataSource=TEMPO, targets=[{**traces, "refId": "A"}]),
     g.Table(title="Traces slower than the 200 ms SLO", dataSource=TEMPO, targets=[{**slow, "refId": "A"}])],
], height=10))
