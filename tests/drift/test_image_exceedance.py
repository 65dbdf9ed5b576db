"""A drifting share of images, seen against the vision model's shipped reference and calibration."""

from __future__ import annotations

import numpy as np
import pytest

from mlobs.drift.calibration import load_calibration
from mlobs.drift.detectors import ImageExceedance
from mlobs.drift.plan import plan
from mlobs.drift.reference import load_reference
from mlobs.drift.settings import DriftSettings


@pytest.fixture(scope="module")
def shipped(vision_model):
    _, directory = vision_model
    planned = plan(load_reference(directory), DriftSettings(), load_calibration(directory))
    return next(p for p in planned if p.detector.name == "image_exceedance"), directory


def images_of(pixels: np.ndarray, shift) -> np.ndarray:
    import torch

    from mlobs_services.vision import model

    return torch.stack([model.preprocess(shift(model.digit_image(p))) for p in pixels]).numpy()


def test_a_tenth_of_rotated_digits_is_flagged_in_nearly_every_window(shipped):
    from mlobs_services.vision import images

    planned, directory = shipped
    holdout = np.load(directory / "holdout.npz")["pixels"]
    clean = images_of(holdout, lambda image: image)
    rotated = images_of(holdout, lambda image: images.rotate(image, 25))
    rng = np.random.default_rng(11)
    flagged = 0
    for _ in range(40):
        order = rng.permutation(len(holdout))  # no digit twice in a window, rotated or not
        window = np.concatenate([clean[order[:180]], rotated[order[180:200]]])
        flagged += any(r.drift for r in planned.decide(planned.detector.score(window), len(window)))
    assert flagged >= 36


def test_an_image_is_scored_by_its_distance_to_the_nearest_reference_image():
    detector = ImageExceedance(quantile=0.5)
    reference = np.zeros((4, 1, 3, 3), dtype=np.float32)
    reference[1] += 1.0
    reference[2] += 2.0
    reference[3] += 4.0
    detector.fit(reference)
    # Each reference image against the others (never itself): 9, 9, 9 and 36 (9 pixels apart by 1, 1, 1, 2).
    assert detector.reference_scores(reference).tolist() == [9.0, 9.0, 9.0, 36.0]
    assert detector.scores(np.full((1, 1, 3, 3), 2.0, dtype=np.float32)).tolist() == [0.0]
    with pytest.raises(ValueError, match="shape"):
        detector.scores(np.zeros((1, 1, 4, 4), dtype=np.float32))
