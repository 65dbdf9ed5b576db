from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mlobs_services.vision import images
from mlobs_services.vision.model import digit_image, load_digits_data


@pytest.fixture(scope="module")
def digit() -> Image.Image:
    pixels, _ = load_digits_data()
    return digit_image(pixels[0])


def test_digit_image_is_a_28x28_grayscale_image(digit):
    assert digit.mode == "L" and digit.size == (28, 28)
    assert np.asarray(digit).max() > 200 and np.asarray(digit)[0, 0] == 0


def test_gaussian_noise_grows_with_strength_and_is_reproducible(digit):
    base = np.asarray(digit, dtype=float)
    mild = np.asarray(images.gaussian_noise(digit, 0.05, np.random.default_rng(0)), dtype=float)
    strong = np.asarray(images.gaussian_noise(digit, 0.3, np.random.default_rng(0)), dtype=float)
    again = np.asarray(images.gaussian_noise(digit, 0.05, np.random.default_rng(0)), dtype=float)
    assert 0 < np.abs(mild - base).mean() < np.abs(strong - base).mean()
    assert np.array_equal(mild, again)


def test_brightness_lifts_the_background_and_contrast_flattens_the_digit(digit):
    brighter = np.asarray(images.brightness_contrast(digit, brightness=0.3))
    flatter = np.asarray(images.brightness_contrast(digit, contrast=0.5))
    assert brighter[0, 0] == round(0.3 * 255)
    assert np.ptp(flatter) < np.ptp(np.asarray(digit))


def test_rotation_moves_pixels_but_keeps_size_and_black_fill(digit):
    rotated = images.rotate(digit, 25)
    assert rotated.size == digit.size and rotated.mode == "L"
    assert not np.array_equal(np.asarray(rotated), np.asarray(digit))
    assert np.asarray(rotated)[0, 0] == 0


def test_class_prior_sampler_over_represents_the_favoured_classes_without_repeats():
    labels = np.repeat(np.arange(10), 100)
    sampler = images.ClassPriorSampler(labels, favoured=[0, 1], weight=0.8, seed=0)
    idx = sampler.sample(200)
    assert len(set(idx.tolist())) == 200
    share = np.isin(labels[idx], [0, 1]).mean()
    assert share > 0.7  # 20% without the shift


def test_class_prior_sampler_refuses_more_distinct_draws_than_the_pool_holds():
    sampler = images.ClassPriorSampler([0, 1, 1], favoured=[0], weight=1.0, seed=0)
    with pytest.raises(ValueError, match="distinct"):
        sampler.sample(5)
