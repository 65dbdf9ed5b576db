"""Offline validation of the generated Kubernetes manifests.

Built-in kinds: the `kubernetes-validate` package's schemas for KUBERNETES_VERSION in strict mode (an unknown
field is an error, as `kubectl apply --validate=strict` makes it). Prometheus Operator kinds: the v1
openAPIV3Schema of the operator's CRDs, committed in schemas/ (see schemas/SOURCE.md), with unknown fields
made errors too (the API server would prune them silently). Then the references between the files: every
kustomization resource exists, every ServiceMonitor and Service selects something.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path

import yaml

from mlobs.stackgen import GenerationError, config
from mlobs.stackgen.kubernetes import BASE, KUBERNETES_VERSION, MONITORING

SCHEMAS = Path(__file__).parent / "schemas"
CRDS = {"PrometheusRule": "prometheusrules.v1.json", "ServiceMonitor": "servicemonitors.v1.json"}


def _strict(schema: dict) -> dict:
    """Unknown fields are errors wherever the schema lists the fields and does not preserve unknown ones."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if ("properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


@lru_cache(maxsize=None)
def _crd_validator(kind: str):
    import jsonschema

    return jsonschema.Draft7Validator(_strict(json.loads((SCHEMAS / CRDS[kind]).read_text())))


def validate_document(doc: dict, where: str) -> None:
    kind = doc.get("kind")
    if kind in CRDS:
        errors = sorted(_crd_validator(kind).iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            raise GenerationError(f"{where}: {kind} {'.'.join(map(str, e.path))}: {e.message}")
        return
    try:
        import kubernetes_validate
    except ImportError:
        raise GenerationError("kubernetes-validate is not installed: pip install -e '.[test]'") from None
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(map(str, exc.path))
        raise GenerationError(f"{where}: {kind} {doc['metadata']['name']} {path}: {exc.message}") from None


def documents(root: Path = config.ROOT) -> dict[str, list[dict]]:
    out = {}
    for directory in (BASE, MONITORING):
        for path in sorted((root / directory).glob("*.yaml")):
            if path.name != "kustomization.yaml":
                out[f"{directory}/{path.name}"] = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return out


def check_references(root: Path, docs: dict[str, list[dict]]) -> None:
    for directory in (BASE, MONITORING):
        kustomization = yaml.safe_load((root / directory / "kustomization.yaml").read_text())
        for resource in kustomization["resources"]:
            if not (root / directory / resource).is_file():
                raise GenerationError(f"{directory}/kustomization.yaml lists missing {resource}")
    every = [d for ds in docs.values() for d in ds]
    services = [d for d in every if d["kind"] == "Service"]
    pods = [d["spec"]["template"]["metadata"]["labels"] for d in every if d["kind"] in ("Deployment",)]
    for s in services:
        selector = s["spec"]["selector"]
        if not any(selector.items() <= labels.items() for labels in pods):
            raise GenerationError(f"Service {s['metadata']['name']} selects no Deployment's pods")
    for m in (d for d in every if d["kind"] == "ServiceMonitor"):
        wanted = m["spec"]["selector"]["matchLabels"]
        ports = {p["name"] for s in services if wanted.items() <= s["metadata"]["labels"].items()
                 for p in s["spec"]["ports"]}
        if not ports or any(e["port"] not in ports for e in m["spec"]["endpoints"]):
            raise GenerationError(f"ServiceMonitor {m['metadata']['name']} selects no Service port it names")


def validate(root: Path = config.ROOT) -> int:
    """Validate every generated manifest; returns how many documents were checked."""
    docs = documents(root)
    for rel, ds in docs.items():
        for doc in ds:
            validate_document(doc, rel)
    check_references(root, docs)
    return sum(len(ds) for ds in docs.values())
