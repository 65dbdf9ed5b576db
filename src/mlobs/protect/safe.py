"""Request data made safe to record: escaped and truncated, so it can never pass for structure.

A path or header value goes into security events, logs and the audit log. Decoded, it can hold
CR/LF (a forged second log line), quotes and `key=value` pairs (forged fields in a text view),
or right-to-left marks (text that reads differently from what it is). Every character outside
printable ASCII, and the quote and backslash, becomes a visible escape (\\r, \\n, \\u202e, ...).
"""

from __future__ import annotations

MAX_CHARS = 64
_ESCAPES = {"\r": "\\r", "\n": "\\n", "\t": "\\t", '"': '\\"', "\\": "\\\\"}


def safe_text(value, limit: int = MAX_CHARS) -> str:
    """`value` as printable ASCII, escaped, at most `limit` characters of the original (then "...")."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    value = str(value)
    cut = value[:limit]
    out = []
    for char in cut:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif " " <= char <= "~":
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
    return "".join(out) + ("..." if len(value) > limit else "")


def safe_path(scope) -> str:
    """The path as the client sent it (percent-encoding kept, so %0d%0a stays text), made safe."""
    raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
    return safe_text(raw)
