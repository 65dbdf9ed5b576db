"""Append a line to an append-only file whole or not at all, and read such a file as its whole lines.

A full volume can take part of a write and refuse the rest, and a process killed in the middle of a write
(a write past a page boundary stops there on a fatal signal), or a machine that loses power, can leave part
of one: half a line at the end would make the file unreadable as lines (a journal, a witness's history),
and the next line appended would be glued to it. So:

- a line counts once its newline is written: readers read up to the last newline (`whole_end`);
- an append takes an exclusive lock on the file, cuts back bytes after the last newline (an append that
  never finished: it counted for no one), writes the line, and on an error cuts the file back to where the
  line began and raises. More bytes after the last newline than the longest line its appends write (a file
  that is not such a file at all, say a path set wrong) are no unfinished append: the file is left as it is
  and the append refused (NotWholeLines). With `sync`, the line is on disk before it returns; if fsync
  fails it is cut too, so a line the caller was told failed is never found there later.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from typing import BinaryIO

_BLOCK = 4096
LONGEST = 16 * 1024 * 1024  # bytes: the longest line an append writes, unless its caller says otherwise


class NotWholeLines(OSError):
    """The file ends in more bytes after its last newline than an unfinished append leaves: not cut back,
    nothing appended."""


def whole_end(handle: BinaryIO, end: int | None = None, limit: int | None = None) -> int:
    """The offset just past the last newline of the file (0 if it has none): where its whole lines end.
    `end`: the file's size if known. With `limit`, raises ValueError when more than `limit` bytes follow
    the last newline (no append of this file writes a line that long)."""
    end = handle.seek(0, os.SEEK_END) if end is None else end
    pos = end
    while pos > 0:
        if limit is not None and end - pos > limit:
            raise ValueError(f"over {limit} bytes after the last whole line")
        step = min(_BLOCK, pos)
        handle.seek(pos - step)
        block = handle.read(step)
        cut = block.rfind(b"\n")
        if cut >= 0:
            if limit is not None and end - (pos - step + cut + 1) > limit:
                raise ValueError(f"over {limit} bytes after the last whole line")
            return pos - step + cut + 1
        pos -= step
    if limit is not None and end > limit:
        raise ValueError(f"over {limit} bytes after the last whole line")
    return 0


def append_whole(handle: BinaryIO, line: bytes, *, sync: bool = False, longest: int = LONGEST,
                 check: Callable[[int], None] | None = None, after: Callable[[], None] | None = None) -> int:
    """Write all of `line` (ending in a newline) at the end of a file opened unbuffered for reading and
    appending (`open(path, "a+b", buffering=0)`), or nothing: raises OSError. Returns the bytes of an
    unfinished line it cut back first (0 nearly always), at most `longest`. Both called under the lock, so
    no other append comes in between: `check(end)`, before anything is changed, with the offset where the
    whole lines end, may raise to refuse the append; `after()` once the line is written (and synced)."""
    fd = handle.fileno()
    fcntl.flock(fd, fcntl.LOCK_EX)  # another appender of the same file waits: its line stays whole too
    try:
        end = handle.seek(0, os.SEEK_END)
        try:
            start = whole_end(handle, end, limit=longest)
        except ValueError:
            raise NotWholeLines(f"{getattr(handle, 'name', 'the file')} ends in over {longest} bytes after its "
                                "last newline: no unfinished append of it, so not cut back; nothing appended") from None
        if check is not None:
            check(start)
        if start < end:
            os.ftruncate(fd, start)
        handle.seek(start)
        try:
            left = memoryview(line)
            while left:  # an unbuffered write may take part of it, and the next one fail
                left = left[handle.write(left):]
            if sync:
                os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, start)
                handle.seek(start)
            except OSError:
                pass  # the original error is the one to report
            raise
        if after is not None:
            after()
        return end - start
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
