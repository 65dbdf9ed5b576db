"""Duplicate keys in a JSON object: refused, since parsers disagree on which one counts.

Python's json (and FastAPI with it) keeps the last; others keep the first or reject. A proxy, a
WAF or an audit reader that sees the first value while the model sees the last is an evasion.
"""

from __future__ import annotations

import json

from mlobs.errors import InputRejected

DUPLICATE_KEY = "duplicate_key"


class DuplicateKey(InputRejected):
    def __init__(self):
        super().__init__(DUPLICATE_KEY, "a JSON object has the same key twice")


def is_json(content_type: bytes) -> bool:
    media = content_type.split(b";")[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def has_duplicate_key(body: bytes) -> bool:
    """True when some object in `body` repeats a key; False for anything else, invalid JSON included
    (the app refuses that with its own reason)."""
    if body.count(b":") < 2:  # one key at most: nothing to repeat, and no second parse
        return False
    found = False

    def pairs(items):
        nonlocal found
        if not found and len({key for key, _ in items}) != len(items):
            found = True

    try:
        json.loads(body, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return False
    return found
