"""A canonical form of each model input, hashed: what the diversity signal counts.

Hashing request bytes counts `{"text":"a"}` and `{"text": "a"}` as two inputs, so re-encoding
fakes diversity and hides repetition. The digest here is taken over what the model sees, reduced
to what a re-encoding cannot change: text NFKC-normalised, case-folded, invisible characters
dropped and whitespace collapsed; an image as its decoded, preprocessed pixels quantised to 16
levels (PNG and JPEG of one picture agree); features with numbers rounded to 3 significant digits.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata

import orjson

_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def canonical_text(text: str) -> str:
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold()
    return " ".join(text.split())


def _round(value, digits: int = 3):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(round(value, digits - 1 - math.floor(math.log10(abs(value)))))


def _digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def input_digest(sample: dict) -> int | None:
    """64-bit hash of the canonical form of one shipped sample's input, or None for none known."""
    if "text" in sample:
        return _digest(b"t" + canonical_text(sample["text"]).encode("utf-8"))
    if "image" in sample:
        import numpy as np  # only image samples need it; the core library installs without numpy

        pixels = np.asarray(sample["image"], dtype=np.float32)
        levels = np.clip(np.round((pixels + 1.0) * 7.5), 0, 15).astype(np.uint8)  # [-1, 1] -> 0..15
        return _digest(b"i" + levels.tobytes())
    if "features" in sample:
        rounded = {k: _round(v) for k, v in sample["features"].items()}
        return _digest(b"f" + orjson.dumps(rounded, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY))
    return None
