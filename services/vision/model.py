"""A small CNN on scikit-learn's digits (8x8, upscaled to 28x28), trained deterministically.

Artifacts: {artifacts_dir}/vision/{version}/ holds model.pt (state dict), metadata.json
(ModelInfo), reference.npz (drift reference: held-out images and their softmax outputs) and
holdout.npz (a second, disjoint held-out pool for benchmarks and traffic). {artifacts_dir}/vision/LATEST
names the version trained last.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import transforms

from mlobs.artifacts import Staging, load_info, source_revision, version_dir
from mlobs.drift.calibration import write_calibration
from mlobs.drift.reference import save_reference
from mlobs.model_info import ModelInfo

MODEL_NAME = "vision"
MODEL_FILE = "model.pt"
IMAGE_SIZE = 28
CLASSES = tuple(str(d) for d in range(10))
PARAMS = {
    "seed": 0,
    "epochs": 8,
    "batch_size": 32,
    "learning_rate": 0.002,
    "image_size": IMAGE_SIZE,
    "n_train": 1000,
    "n_reference": 400,  # the rest of the 1,797 images is the holdout pool (calibration, traffic, benchmarks)
    "calibration_trials": 200,  # held-out windows per detector and window size
}

PREPROCESS = transforms.Compose(
    [
        transforms.Grayscale(num_output_channels=1),
        transforms.Resize((IMAGE_SIZE, IMAGE_SIZE), antialias=True),
        transforms.ToTensor(),
        transforms.Normalize((0.5,), (0.5,)),
    ]
)


def preprocess(image: Image.Image) -> torch.Tensor:
    """A PIL image of any mode and size -> a (1, 28, 28) float tensor in [-1, 1]."""
    return PREPROCESS(image)


def digit_image(pixels: np.ndarray, size: int = IMAGE_SIZE) -> Image.Image:
    """One scikit-learn digit (8x8 values 0..16) as a size x size grayscale PIL image (white on black)."""
    pixels = np.asarray(pixels, dtype=np.float32).reshape(8, 8)
    small = Image.fromarray(np.clip(np.rint(pixels * (255.0 / 16.0)), 0, 255).astype(np.uint8), mode="L")
    return small.resize((size, size), Image.BILINEAR)


def load_digits_data() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images.astype(np.uint8), digits.target.astype(np.int64)


def data_hash(pixels: np.ndarray, labels: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(pixels).tobytes())
    digest.update(np.ascontiguousarray(labels).tobytes())
    return digest.hexdigest()


def split(n: int, seed: int, n_train: int, n_reference: int) -> dict[str, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return {
        "train": np.sort(order[:n_train]),
        "reference": np.sort(order[n_train : n_train + n_reference]),
        "holdout": np.sort(order[n_train + n_reference :]),
    }


def to_batch(pixels: np.ndarray) -> torch.Tensor:
    return torch.stack([preprocess(digit_image(p)) for p in pixels])


class DigitCNN(nn.Module):
    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def predict_proba(model: nn.Module, batch: torch.Tensor) -> np.ndarray:
    """(n, 1, 28, 28) preprocessed images -> (n, 10) softmax probabilities."""
    with torch.inference_mode():
        return torch.softmax(model(batch), dim=1).numpy()


class _Deterministic:
    """Seeded, single-threaded, deterministic kernels for the duration of training; restored after."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __enter__(self) -> None:
        self._threads = torch.get_num_threads()
        self._deterministic = torch.are_deterministic_algorithms_enabled()
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        torch.manual_seed(self.seed)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self._threads)
        torch.use_deterministic_algorithms(self._deterministic)


def _fit(x: torch.Tensor, y: torch.Tensor, params: dict, progress: bool) -> DigitCNN:
    model = DigitCNN(len(CLASSES))
    optimiser = torch.optim.Adam(model.parameters(), lr=params["learning_rate"])
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(params["seed"])
    model.train()
    for epoch in range(params["epochs"]):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), params["batch_size"]):
            idx = order[start : start + params["batch_size"]]
            optimiser.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
        if progress:
            print(f"  epoch {epoch + 1:2d}/{params['epochs']}  loss {total / len(x):.4f}", flush=True)
    return model.eval()


def train(artifacts_dir: Path | str, progress: bool = False, params: dict | None = None) -> ModelInfo:
    """Train, evaluate and publish a new version directory."""
    params = {**PARAMS, **(params or {})}
    started = time.perf_counter()
    pixels, labels = load_digits_data()
    parts = split(len(labels), params["seed"], params["n_train"], params["n_reference"])
    with _Deterministic(params["seed"]):
        x = {name: to_batch(pixels[idx]) for name, idx in parts.items()}
        y = {name: torch.from_numpy(labels[idx]) for name, idx in parts.items()}
        model = _fit(x["train"], y["train"], params, progress)
        probs = {name: predict_proba(model, x[name]) for name in ("reference", "holdout")}
    held_out_correct = sum(int((probs[n].argmax(1) == labels[parts[n]]).sum()) for n in probs)
    accuracy = held_out_correct / (len(parts["reference"]) + len(parts["holdout"]))

    reference = {"probs": probs["reference"], "images": x["reference"].numpy()}
    with Staging(artifacts_dir, MODEL_NAME) as staging:
        torch.save(model.state_dict(), staging.path / MODEL_FILE)
        save_reference(staging.path, **reference, labels=labels[parts["reference"]],
                       pixels=pixels[parts["reference"]])
        # Decision rules for this reference, from windows of the disjoint holdout pool; the accuracy
        # estimator from every held-out image.
        with _Deterministic(params["seed"]):  # the same p-values to the last bit, so the same version
            write_calibration(
                staging.path, reference, {"probs": probs["holdout"], "images": x["holdout"].numpy()},
                trials=params["calibration_trials"], seed=params["seed"],
                labelled_probs=np.concatenate([probs["reference"], probs["holdout"]]),
                labels=np.concatenate([labels[parts["reference"]], labels[parts["holdout"]]]),
            )
        np.savez_compressed(
            staging.path / "holdout.npz", pixels=pixels[parts["holdout"]], labels=labels[parts["holdout"]],
            probs=probs["holdout"],
        )
        info = staging.publish(
            data_hash=data_hash(pixels, labels), params=params, code_revision=source_revision(sys.modules[__name__]),
            classes=CLASSES,
            metrics={"held_out_accuracy": round(accuracy, 4),
                     "n_held_out": len(parts["reference"]) + len(parts["holdout"])},
        )
    if progress:
        print(
            f"vision {info.version}: held-out accuracy {accuracy:.2%} on {info.metrics['n_held_out']} images, "
            f"trained in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    return info


def latest_version_dir(artifacts_dir: Path | str) -> Path | None:
    return version_dir(artifacts_dir, MODEL_NAME)


def load(directory: Path | str) -> tuple[DigitCNN, ModelInfo]:
    directory = Path(directory)
    info = load_info(directory)
    model = DigitCNN(len(info.classes))
    model.load_state_dict(torch.load(directory / MODEL_FILE, map_location="cpu", weights_only=True))
    return model.eval(), info


SWAPPED_DIGITS = ((3, 5), (4, 9))


def mislabel(directory) -> str:
    """Turn the artifact in `directory` into the model mislabelled training data would give: two pairs of
    digits swapped in the output layer (for scenario runs: `mlobs.local.bad_version`)."""
    path = Path(directory) / MODEL_FILE
    state = torch.load(path, map_location="cpu")
    order = list(range(state["head.3.bias"].shape[0]))
    for a, b in SWAPPED_DIGITS:
        order[a], order[b] = order[b], order[a]
    state["head.3.weight"] = state["head.3.weight"][order].clone()
    state["head.3.bias"] = state["head.3.bias"][order].clone()
    torch.save(state, path)
    return "digits " + ", ".join(f"{a}/{b}" for a, b in SWAPPED_DIGITS) + " swapped"


if __name__ == "__main__":
    import sys

    print(json.dumps(train(sys.argv[1] if len(sys.argv) > 1 else "artifacts", progress=True).metrics))
