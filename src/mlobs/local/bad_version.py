"""A bad model version to roll out mid-run: the published artifact, retrained on mislabelled data.

Retraining takes minutes for some models, so the mislabelling is applied to the trained weights
directly, with the same effect a label-column bug in training data has: the credit model learns the
default label inverted, the digits model learns two pairs of digits swapped. The result is published
as a new version (its own content hash) in a separate artifacts directory, so the service that loads
it reports a new `mlobs_model_info` version.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from mlobs import artifacts, registry
from mlobs.model_info import ModelInfo

SWAPPED_DIGITS = ((3, 5), (4, 9))


def _credit_inverted_labels(directory: Path) -> str:
    import joblib

    path = directory / "model.joblib"
    model = joblib.load(path)
    model.logreg.coef_ = -model.logreg.coef_
    model.logreg.intercept_ = -model.logreg.intercept_
    joblib.dump(model, path)
    return "default label inverted"


def _vision_swapped_digits(directory: Path) -> str:
    import torch

    path = directory / "model.pt"
    state = torch.load(path, map_location="cpu")
    order = list(range(state["head.3.bias"].shape[0]))
    for a, b in SWAPPED_DIGITS:
        order[a], order[b] = order[b], order[a]
    state["head.3.weight"] = state["head.3.weight"][order].clone()
    state["head.3.bias"] = state["head.3.bias"][order].clone()
    torch.save(state, path)
    return "digits " + ", ".join(f"{a}/{b}" for a, b in SWAPPED_DIGITS) + " swapped"


MISLABEL: dict[str, Callable[[Path], str]] = {"credit": _credit_inverted_labels, "vision": _vision_swapped_digits}


def publish(service: str, artifacts_dir: Path, target_dir: Path) -> ModelInfo:
    """Publish the mislabelled copy of `service`'s latest model in `target_dir`; returns its info."""
    if service not in MISLABEL:
        raise ValueError(f"no bad version for {service}; there is one for {', '.join(MISLABEL)}")
    name = registry.load(service).NAME
    source, info = artifacts.require(artifacts_dir, name)
    with artifacts.Staging(target_dir, name) as staging:
        for path in source.iterdir():
            if path.is_file() and path.name != artifacts.METADATA:
                shutil.copy2(path, staging.path / path.name)
        how = MISLABEL[service](staging.path)
        return staging.publish(data_hash=info.training_data_hash, params={**info.params, "mislabelled": how},
                               code_revision=info.code_revision, classes=info.classes, metrics={})
