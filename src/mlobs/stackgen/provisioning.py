"""Grafana provisioning: datasources with stable uids and cross-links, and the dashboard provider.

Grafana expands $VAR and ${VAR} in provisioning files, so a literal `$` is written `$$`.
"""

from __future__ import annotations

from mlobs import catalog
from mlobs.stackgen import config, logql
from mlobs.stackgen.yamlout import dump

TRACE_ID = "trace_id"  # exemplar label and JSON log field (mlobs.instrumentation, mlobs.logs)
SERVICE_NAME = "service.name"  # span resource attribute = the `service` metric label = Loki's service_name


def datasources() -> dict:
    http = catalog.HTTP_REQUEST_DURATION
    metric_tags = [{"key": SERVICE_NAME, "value": catalog.SERVICE}]
    # Grafana builds `{service_name="<span's service.name>"} |= "<trace id>"` from this mapping.
    log_tags = [{"key": SERVICE_NAME, "value": logql.SERVICE_NAME}]
    return {
        "apiVersion": 1,
        "datasources": [
            {"name": "Prometheus", "uid": config.PROMETHEUS_UID, "type": "prometheus", "access": "proxy",
             "url": config.PROMETHEUS_URL, "isDefault": True, "editable": False,
             "jsonData": {"httpMethod": "POST", "timeInterval": "5s",
                          "exemplarTraceIdDestinations": [{"name": TRACE_ID, "datasourceUid": config.TEMPO_UID}]}},
            {"name": "Loki", "uid": config.LOKI_UID, "type": "loki", "access": "proxy", "url": config.LOKI_URL,
             "editable": False,
             "jsonData": {"maxLines": 1000, "derivedFields": [
                 {"name": "TraceID", "matcherRegex": f'"{TRACE_ID}":\\s*"(\\w+)"',
                  "datasourceUid": config.TEMPO_UID, "url": "$${__value.raw}"}]}},
            {"name": "Tempo", "uid": config.TEMPO_UID, "type": "tempo", "access": "proxy", "url": config.TEMPO_URL,
             "editable": False,
             "jsonData": {
                 "tracesToLogsV2": {"datasourceUid": config.LOKI_UID, "spanStartTimeShift": "-5m",
                                    "spanEndTimeShift": "5m", "filterByTraceID": True, "tags": log_tags},
                 "tracesToMetrics": {"datasourceUid": config.PROMETHEUS_UID, "spanStartTimeShift": "-5m",
                                     "spanEndTimeShift": "5m", "tags": metric_tags, "queries": [
                     {"name": "Request rate",
                      "query": f"sum(rate({http.count}{{$$__tags}}[5m]))"},
                     {"name": "p99 latency",
                      "query": f"histogram_quantile(0.99, sum by (le) (rate({http.bucket}{{$$__tags}}[5m])))"}]},
                 "serviceMap": {"datasourceUid": config.PROMETHEUS_UID},
                 "nodeGraph": {"enabled": True},
                 "search": {"hide": False}}},
            {"name": "Alertmanager", "uid": config.ALERTMANAGER_UID, "type": "alertmanager", "access": "proxy",
             "url": config.ALERTMANAGER_URL, "editable": False,
             # For viewing alerts and silences. The stack provisions no Grafana-managed rules (Prometheus
             # evaluates them all), so there is nothing for Grafana to forward here.
             "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False}},
        ],
    }


def dashboard_provider() -> dict:
    return {
        "apiVersion": 1,
        "providers": [{
            "name": "mlobs", "orgId": config.GRAFANA_ORG_ID, "folder": config.GRAFANA_FOLDER, "type": "file",
            "disableDeletion": True, "allowUiUpdates": False, "updateIntervalSeconds": 30,
            "options": {"path": config.GRAFANA_DASHBOARDS_PATH, "foldersFromFilesStructure": False},
        }],
    }


def files() -> dict[str, str]:
    src = "src/mlobs/stackgen/provisioning.py"
    return {
        "stack/grafana/provisioning/datasources/datasources.yml": dump(datasources(), source=src),
        "stack/grafana/provisioning/dashboards/dashboards.yml": dump(
            dashboard_provider(), source=src + f" (mount dashboards/generated at {config.GRAFANA_DASHBOARDS_PATH})"),
    }
