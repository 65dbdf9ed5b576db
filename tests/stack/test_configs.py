"""The Collector, Loki, Tempo and Grafana provisioning files parse and are wired to each other."""

from __future__ import annotations

import json

import yaml

from mlobs.stackgen import config, prometheus_config

ROOT = config.ROOT
STACK = ROOT / "stack"


def load(rel: str) -> dict:
    return yaml.safe_load((STACK / rel).read_text())


def test_every_collector_pipeline_names_components_that_are_defined():
    collector = load("otel-collector/config.yml")
    pipelines = collector["service"]["pipelines"]
    assert {"traces", "logs"} <= pipelines.keys()
    for name, pipeline in pipelines.items():
        assert pipeline["receivers"] and pipeline["exporters"], f"pipeline {name} is missing a receiver or exporter"
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in collector[kind], f"pipeline {name} names undefined {kind[:-1]} {component}"
    for extension in collector["service"].get("extensions", []):
        assert extension in collector["extensions"]


def test_every_defined_collector_component_is_used():
    collector = load("otel-collector/config.yml")
    used = {c for p in collector["service"]["pipelines"].values() for kind in ("receivers", "processors", "exporters")
            for c in p.get(kind, [])}
    for kind in ("receivers", "processors", "exporters"):
        assert set(collector[kind]) <= used, f"unused {kind}: {set(collector[kind]) - used}"


def test_collector_sends_traces_to_tempo_and_logs_to_loki_otlp():
    collector = load("otel-collector/config.yml")
    tempo = load("tempo/config.yml")
    exporters = collector["exporters"]
    assert exporters["otlp/tempo"]["endpoint"] == "tempo:4317"
    assert tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")
    assert exporters["otlphttp/loki"]["endpoint"] == "http://loki:3100/otlp"
    assert load("loki/config.yml")["limits_config"]["allow_structured_metadata"] is True


def test_collector_receives_all_three_signals_by_otlp_and_writes_metrics_to_prometheus():
    collector = load("otel-collector/config.yml")
    pipelines = collector["service"]["pipelines"]
    assert all("otlp" in pipelines[signal]["receivers"] for signal in ("traces", "metrics", "logs"))
    assert pipelines["metrics"]["exporters"] == ["prometheusremotewrite"]
    assert collector["exporters"]["prometheusremotewrite"]["endpoint"] == "http://prometheus:9090/api/v1/write"
    compose = yaml.safe_load((STACK.parent / "docker-compose.yml").read_text())
    assert "--web.enable-remote-write-receiver" in compose["services"]["prometheus"]["command"]


def test_collector_reads_container_logs_and_lifts_the_mlobs_fields():
    receiver = load("otel-collector/config.yml")["receivers"]["filelog/containers"]
    assert receiver["include"] == ["/var/lib/docker/containers/*/*-json.log"]
    operators = {op["type"]: op for op in receiver["operators"]}
    assert operators["container"]["format"] == "docker"
    assert operators["trace_parser"]["trace_id"]["parse_from"] == "attributes.trace_id"
    assert operators["move"]["to"] == 'resource["service.name"]'


def test_lines_without_a_trace_skip_the_trace_parser_instead_of_failing_it():
    receiver = load("otel-collector/config.yml")["receivers"]["filelog/containers"]
    operators = {op["type"]: op for op in receiver["operators"]}
    assert "trace" not in operators["json_parser"]  # a null trace_id there is a parse error per line
    assert operators["trace_parser"]["if"] == "attributes.trace_id != nil"


def test_collector_keeps_its_read_offsets_in_a_volume_and_uses_no_deprecated_telemetry_key():
    collector = load("otel-collector/config.yml")
    assert collector["receivers"]["filelog/containers"]["storage"] == "file_storage"
    directory = collector["extensions"]["file_storage"]["directory"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert any(v.endswith(":" + directory) for v in compose["services"]["otel-collector"]["volumes"])
    metrics = collector["service"]["telemetry"]["metrics"]
    assert "address" not in metrics and metrics["readers"][0]["pull"]["exporter"]["prometheus"]["port"] == 8888


def test_tempo_stores_everything_in_its_volume():
    tempo = load("tempo/config.yml")
    paths = [tempo["storage"]["trace"]["wal"]["path"], tempo["storage"]["trace"]["local"]["path"],
             tempo["metrics_generator"]["storage"]["path"], tempo["metrics_generator"]["traces_storage"]["path"]]
    assert all(p.startswith("/var/tempo/") for p in paths)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert "tempo-data:/var/tempo" in compose["services"]["tempo"]["volumes"]


def test_tempo_metrics_generator_remote_writes_to_prometheus():
    tempo = load("tempo/config.yml")
    (remote,) = tempo["metrics_generator"]["storage"]["remote_write"]
    assert remote["url"] == "http://prometheus:9090/api/v1/write"
    assert "--web.enable-remote-write-receiver" in prometheus_config.FLAGS
    assert "span-metrics" in tempo["overrides"]["defaults"]["metrics_generator"]["processors"]


def test_loki_single_binary_config_has_a_tsdb_schema():
    loki = load("loki/config.yml")
    assert loki["auth_enabled"] is False
    (schema,) = loki["schema_config"]["configs"]
    assert (schema["store"], schema["schema"]) == ("tsdb", "v13")
    assert loki["server"]["http_listen_port"] == 3100


def test_grafana_provisioning_files_parse_and_agree_on_datasource_uids():
    datasources = load("grafana/provisioning/datasources/datasources.yml")["datasources"]
    uids = {ds["uid"] for ds in datasources}
    assert {config.PROMETHEUS_UID, config.LOKI_UID, config.TEMPO_UID, config.ALERTMANAGER_UID} <= uids
    (provider,) = load("grafana/provisioning/dashboards/dashboards.yml")["providers"]
    assert provider["options"]["path"] == config.GRAFANA_DASHBOARDS_PATH
    alerting = sorted((STACK / "grafana/alerting").glob("*.yml"))
    assert alerting
    for path in alerting:
        for group in yaml.safe_load(path.read_text()).get("groups", []):
            for rule in group["rules"]:
                assert {d["datasourceUid"] for d in rule["data"]} <= uids | {"__expr__"}, rule["title"]


def test_every_generated_dashboard_is_json_with_known_datasources():
    uids = {config.PROMETHEUS_UID, config.LOKI_UID, config.TEMPO_UID}
    boards = sorted((ROOT / "dashboards/generated").glob("*.json"))
    assert boards
    for path in boards:
        found = set()

        def walk(node, found=found):
            if isinstance(node, dict):
                ds = node.get("datasource")
                if isinstance(ds, dict) and "uid" in ds:
                    found.add(ds["uid"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(json.loads(path.read_text()))
        assert found <= uids | {"-- Grafana --", "grafana"}, f"{path.name}: {found - uids}"
