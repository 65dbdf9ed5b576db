"""A real filesystem whose server stops answering, as an NFS mount does when its server goes away: a FUSE
mount whose daemon answers the kernel's handshake and nothing after it, so `statvfs`, `stat` and every
path lookup under it block until the daemon goes. It needs the right to mount and /dev/fuse (root here
and in CI); a test that cannot mount one is skipped, saying why.

The daemon is a process of its own: a thread of the test blocked on the mount must never be the one
that would answer it. Stopping the daemon aborts the mount's connection (every blocked call returns
ENOTCONN), and the mount is then detached, so the directory under it is reachable again.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

FUSE_INIT = 26
IN_HEADER = struct.Struct("<IIQQIIII")  # len, opcode, unique, nodeid, uid, gid, pid, padding
OUT_HEADER = struct.Struct("<IiQ")  # len, error, unique
# fuse_init_out as protocol 7.19 has it (the kernel accepts a daemon speaking an older minor):
# major, minor, max_readahead, flags, max_background, congestion_threshold, max_write.
INIT_OUT = struct.Struct("<IIIIHHI")


def serve(mount: str) -> None:
    """Mount a FUSE filesystem on `mount`, answer its INIT and nothing else, until killed."""
    fd = os.open("/dev/fuse", os.O_RDWR)
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    options = f"fd={fd},rootmode=40000,user_id=0,group_id=0".encode()
    if libc.mount(b"hung", mount.encode(), b"fuse.hung", 0, options) != 0:
        sys.exit(f"mount: {os.strerror(ctypes.get_errno())}")
    print("mounted", flush=True)
    while True:
        request = os.read(fd, 1 << 20)
        _, opcode, unique, *_ = IN_HEADER.unpack_from(request)
        if opcode == FUSE_INIT:
            body = INIT_OUT.pack(7, 19, 0, 0, 0, 0, 4096)
            os.write(fd, OUT_HEADER.pack(OUT_HEADER.size + len(body), 0, unique) + body)


@contextlib.contextmanager
def hung_volume(mount: Path):
    """`mount` (an existing directory) covered by a filesystem that never answers, until the block ends. Files
    opened under it before keep working (they are on the filesystem beneath); paths under it block."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("a hung filesystem cannot be mounted here: no /dev/fuse")
    daemon = subprocess.Popen([sys.executable, __file__, str(mount)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    line = daemon.stdout.readline().strip()
    if line != "mounted":
        daemon.wait(10)
        pytest.skip(f"a hung filesystem cannot be mounted here: {daemon.stderr.read().strip()}")
    try:
        yield mount
    finally:
        daemon.kill()  # its /dev/fuse handle closes: the connection is aborted, blocked calls return
        daemon.wait(10)
        subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)


if __name__ == "__main__":
    serve(sys.argv[1])
