"""A real filesystem of a few hundred kilobytes or megabytes (tmpfs), for what a full volume does: it
needs the right to mount (root here and in CI), and a test that cannot mount one is skipped, saying why."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_volume(mount: Path, size: str):
    """`mount` as a tmpfs of `size` (e.g. "256k", "16m"), mode 0700, until the block ends."""
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"a small filesystem cannot be mounted here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path, leave: int = 0) -> None:
    """Take every free byte of the filesystem of `directory` but `leave`, in a file named filler."""
    stat = os.statvfs(directory)
    with open(directory / "filler", "wb") as handle:
        handle.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))
