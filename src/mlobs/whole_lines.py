"""Append a line to an append-only file whole or not at all.

A full volume can take part of a write and refuse the rest; half a line left at the end would make the
file unreadable as lines (a journal, a witness's history). So the file is cut back to where the line
began, and the error goes to the caller.
"""

from __future__ import annotations

import os
from typing import BinaryIO


def append_whole(handle: BinaryIO, line: bytes) -> None:
    """Write all of `line` at the end of an unbuffered (`buffering=0`) file, or nothing: raises OSError."""
    start = handle.seek(0, os.SEEK_END)
    try:
        left = memoryview(line)
        while left:  # an unbuffered write may take part of it, and the next one fail
            left = left[handle.write(left):]
    except OSError:
        try:
            os.ftruncate(handle.fileno(), start)
        except OSError:
            pass  # the original error is the one to report
        raise
