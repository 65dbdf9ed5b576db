"""A bad model version to roll out mid-run: the published artifact, retrained on mislabelled data.

Retraining takes minutes for some models, so the mislabelling is applied to the trained weights
directly, with the same effect a label-column bug in training data has; each service's module does it
for its own model (`mislabel(version_dir)`, reached through the registry). The result is published
as a new version (its own content hash) in a separate artifacts directory, so the service that loads
it reports a new `mlobs_model_info` version.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mlobs import artifacts, registry
from mlobs.model_info import ModelInfo

def supported(service: str) -> bool:
    """Whether `service` can publish a mislabelled copy of its model (its module provides mislabel())."""
    return hasattr(registry.load(service), "mislabel")


def publish(service: str, artifacts_dir: Path, target_dir: Path) -> ModelInfo:
    """Publish the mislabelled copy of `service`'s latest model in `target_dir`; returns its info."""
    module = registry.load(service)
    if not supported(service):
        raise ValueError(f"no bad version for {service}: its service module has no mislabel()")
    name = module.NAME
    source, info = artifacts.require(artifacts_dir, name)
    with artifacts.Staging(target_dir, name) as staging:
        for path in source.iterdir():
            if path.is_file() and path.name != artifacts.METADATA:
                shutil.copy2(path, staging.path / path.name)
        how = module.mislabel(staging.path)
        return staging.publish(data_hash=info.training_data_hash, params={**info.params, "mislabelled": how},
                               code_revision=info.code_revision, classes=info.classes, metrics={})
