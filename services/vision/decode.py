"""Untrusted bytes -> a PIL image, refusing what a model endpoint should never decode.

open_image() reads headers only, so a request's pixels can be summed against its budget before
any image is decoded; load() decodes."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from mlobs.errors import InputRejected

FORMATS = ("PNG", "JPEG")
MODES = ("1", "L", "LA", "P", "RGB", "RGBA")


def decode(data: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    return load(open_image(data, max_bytes, max_pixels))


def open_image(data: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    """Read and check the header only: size, mode, format. Decoding is load()'s job."""
    if not data:
        raise InputRejected("empty", "the image is empty")
    if len(data) > max_bytes:
        raise InputRejected("too_large", f"an image may have at most {max_bytes} bytes", 413)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputRejected("too_many_pixels", f"an image may have at most {max_pixels} pixels") from None
    except UnidentifiedImageError:
        raise InputRejected("not_an_image", "the data is not a PNG or JPEG image") from None
    width, height = image.size
    if width * height > max_pixels:
        raise InputRejected("too_many_pixels", f"{width}x{height} is over the limit of {max_pixels} pixels")
    if image.mode not in MODES:
        raise InputRejected("wrong_mode", f"image mode {image.mode} is not one of {', '.join(MODES)}")
    return image


def load(image: Image.Image) -> Image.Image:
    """Decode the pixels of an image open_image() accepted."""
    try:
        image.load()
    except (OSError, SyntaxError, ValueError):
        raise InputRejected("truncated", "the image data is truncated or corrupt") from None
    return image
