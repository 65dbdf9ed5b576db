"""Reference data: part of each model version's training artifacts.

Convention: {artifacts_dir}/{model}/{version}/reference.npz, written by the training code with
save_reference(version_dir, **arrays). Keys the drift exporter understands (mlobs.drift.plan):

    probs        (n, classes) float  softmax outputs on held-out data           -> softmax KS
    images       (n, [c,] h, w) float preprocessed held-out images              -> image stats KS, embedding MMD
    texts        (n,) str  held-out texts, with vocabulary (v,) str             -> text OOV rate, text exceedance
    numeric      (n, f) float, with numeric_features (f,) str                  -> tabular KS
    categorical  (n, f) str,   with categorical_features (f,) str              -> tabular chi-square

Reference rows must come from data the model was not trained on, or the null is not valid.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

REFERENCE_FILE = "reference.npz"


def reference_dir(artifacts_dir: Path | str, model: str, version: str) -> Path:
    for part in (model, version):
        if not part or "/" in part or "\\" in part or part in (".", ".."):
            raise ValueError(f"invalid model or version name {part!r}")
    return Path(artifacts_dir) / model / version


def save_reference(directory: Path | str, **arrays: np.ndarray) -> Path:
    if not arrays:
        raise ValueError("save_reference needs at least one array")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    converted = {}
    for key, value in arrays.items():
        array = np.asarray(value)
        if array.dtype == object:
            array = array.astype(str)  # loadable without pickle
        converted[key] = array
    path = directory / REFERENCE_FILE
    tmp = directory / (REFERENCE_FILE + ".tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **converted)
    os.replace(tmp, path)
    return path


def load_reference(directory: Path | str) -> dict[str, np.ndarray]:
    path = Path(directory) / REFERENCE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no drift reference at {path}; train this model version to write one")
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def reference_keys(directory: Path | str) -> set[str]:
    """The arrays a version's reference holds, read from the archive's index without loading them
    (empty if there is no readable reference)."""
    try:
        with zipfile.ZipFile(Path(directory) / REFERENCE_FILE) as archive:
            return {name.removesuffix(".npy") for name in archive.namelist()}
    except (OSError, zipfile.BadZipFile):
        return set()


def reference_classes(directory: Path | str) -> int | None:
    """Columns of the reference's `probs` (the model's classes), read from the array's header without
    decompressing it; None if there is no readable reference or it holds no 2-d outputs."""
    try:
        with zipfile.ZipFile(Path(directory) / REFERENCE_FILE) as archive, archive.open("probs.npy") as member:
            version = np.lib.format.read_magic(member)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, _ = read_header(member)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return int(shape[1]) if len(shape) == 2 else None
