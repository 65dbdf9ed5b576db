"""Traffic for the vision service: held-out digits as PNG, shifted by scenario."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from PIL import Image

from mlobs.traffic.workload import Request, check_scenario, mixture_scenarios
from mlobs_services.vision import images, model

SINGLE_SHARE, BATCH_SHARE = 0.90, 0.08
BATCH_SIZES = (2, 8)
FAVOURED = (0, 1, 2)

Shift = Callable[[Image.Image, np.random.Generator], Image.Image]
SHIFTS: dict[str, Shift | None] = {
    "normal": None,
    "gaussian-noise": lambda im, rng: images.gaussian_noise(im, 0.3, rng),
    "brightness-contrast": lambda im, rng: images.brightness_contrast(im, brightness=0.3, contrast=0.6),
    "rotation": lambda im, rng: images.rotate(im, 25),
    "class-prior": None,  # the images are untouched; the mix of digits changes
}
# A share of the images rotated 25 degrees (e.g. one camera mounted askew), the rest as normal.
MIXTURES = mixture_scenarios("rotation")


def _share_rotated(share: float) -> Shift:
    return lambda im, rng: images.rotate(im, 25) if rng.random() < share else im


SHIFTS.update({name: _share_rotated(share) for name, share in MIXTURES.items()})


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@dataclass
class VisionWorkload:
    scenario: str
    pixels: np.ndarray
    labels: np.ndarray
    order: list[int]
    rng: np.random.Generator
    _pending: list[int] = field(default_factory=list)

    def _pick(self, r: random.Random) -> int:
        """Each held-out image once per pass, in a new order each pass: a window of traffic
        repeats no image (repeats inflate a two-sample test's false positives)."""
        if not self._pending:
            self._pending = r.sample(self.order, len(self.order))
        return self._pending.pop()

    def _image(self, index: int) -> bytes:
        image = model.digit_image(self.pixels[index])
        shift = SHIFTS[self.scenario]
        return png(shift(image, self.rng) if shift else image)

    def next_request(self, r: random.Random) -> Request:
        draw = r.random()
        if draw < SINGLE_SHARE:
            i = self._pick(r)
            return Request("POST", "/predict", content=self._image(i), headers={"content-type": "image/png"},
                           truth=str(self.labels[i]), kind="single")
        if draw < SINGLE_SHARE + BATCH_SHARE:
            picks = [self._pick(r) for _ in range(r.randint(*BATCH_SIZES))]
            return Request("POST", "/predict", files=[("images", (f"{i}.png", self._image(i), "image/png"))
                                                      for i in picks], kind="batch")
        return r.choice(BAD_INPUTS)()

    def feedback(self, response_json: Any, truth: Any) -> Request | None:
        request_id = response_json.get("request_id") if isinstance(response_json, dict) else None
        if not request_id or truth is None:
            return None
        return Request("POST", "/feedback", json={"request_id": request_id, "label": truth}, kind="feedback")


def _not_an_image() -> Request:
    return Request("POST", "/predict", content=b"GIF89a? no, just text", headers={"content-type": "image/png"},
                   kind="bad:not-an-image")


def _truncated() -> Request:
    data = png(Image.new("L", (28, 28), 128))
    return Request("POST", "/predict", content=data[: len(data) // 2], headers={"content-type": "image/png"},
                   kind="bad:truncated")


def _wrong_mode() -> Request:
    out = io.BytesIO()
    Image.new("CMYK", (28, 28)).save(out, format="JPEG")
    return Request("POST", "/predict", content=out.getvalue(), headers={"content-type": "image/jpeg"},
                   kind="bad:wrong-mode")


def _too_many_pixels() -> Request:
    return Request("POST", "/predict", content=png(Image.new("1", (5000, 5000))), headers={"content-type": "image/png"},
                   kind="bad:too-many-pixels")


BAD_INPUTS = (_not_an_image, _truncated, _wrong_mode, _too_many_pixels)


def workload(scenario: str = "normal", seed: int = 7) -> VisionWorkload:
    check_scenario("vision", scenario, SHIFTS)
    pixels, labels = model.load_digits_data()
    holdout = model.split(len(labels), model.PARAMS["seed"], model.PARAMS["n_train"], model.PARAMS["n_reference"])
    pool = holdout["holdout"]
    if scenario == "class-prior":
        pool = np.concatenate([pool] + [pool[np.isin(labels[pool], FAVOURED)]] * 4)
    return VisionWorkload(scenario, pixels, labels, [int(i) for i in pool], np.random.default_rng(seed))
