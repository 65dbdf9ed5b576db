"""Shift transforms for traffic scenarios and benchmarks. Each takes a grayscale PIL image (or a
uint8 array) and returns a new PIL image; randomness comes from the numpy Generator passed in."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image


def _array(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("L"))
    return np.asarray(image, dtype=np.float32)


def _image(values: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")


def gaussian_noise(image: Image.Image | np.ndarray, strength: float, rng: np.random.Generator) -> Image.Image:
    """Additive noise with standard deviation strength x 255 (strength 0.05 is mild)."""
    values = _array(image)
    return _image(values + rng.normal(0.0, strength * 255.0, values.shape))


def brightness_contrast(image: Image.Image | np.ndarray, brightness: float = 0.0, contrast: float = 1.0) -> Image.Image:
    """contrast scales around mid-grey, then brightness adds brightness x 255."""
    values = _array(image)
    return _image((values - 127.5) * contrast + 127.5 + brightness * 255.0)


def rotate(image: Image.Image | np.ndarray, degrees: float) -> Image.Image:
    img = image.convert("L") if isinstance(image, Image.Image) else _image(_array(image))
    return img.rotate(degrees, resample=Image.BILINEAR, fillcolor=0)


class ClassPriorSampler:
    """Draws indices of a labelled pool so that chosen classes are over-represented.

    weight: the share of draws that come from the favoured classes (the rest uniformly from the pool).
    """

    def __init__(self, labels: Sequence[int] | np.ndarray, favoured: Sequence[int], weight: float,
                 seed: int = 0) -> None:
        labels = np.asarray(labels)
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must be in [0, 1], got {weight}")
        self._favoured = np.flatnonzero(np.isin(labels, list(favoured)))
        if len(self._favoured) == 0:
            raise ValueError(f"no sample in the pool has a label in {list(favoured)}")
        self._all = np.arange(len(labels))
        self.weight = weight
        self._rng = np.random.default_rng(seed)

    def sample(self, n: int, replace: bool = False) -> np.ndarray:
        """n indices; without replacement each group is drawn without repeats (as far as it lasts)."""
        n_favoured = int(self._rng.binomial(n, self.weight))
        favoured = self._draw(self._favoured, n_favoured, replace)
        rest_pool = np.setdiff1d(self._all, favoured) if not replace else self._all
        rest = self._draw(rest_pool, n - len(favoured), replace)
        out = np.concatenate([favoured, rest])
        self._rng.shuffle(out)
        return out

    def _draw(self, pool: np.ndarray, n: int, replace: bool) -> np.ndarray:
        if not replace and n > len(pool):
            raise ValueError(f"cannot draw {n} distinct samples from a pool of {len(pool)}; pass replace=True")
        return self._rng.choice(pool, size=n, replace=replace)
