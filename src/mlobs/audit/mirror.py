"""The checkpoint mirror: each signed checkpoint appended to a file kept apart from the log (another
volume, another host's mount), from a thread of its own.

It is a copy, so its volume never costs a decision: one that is full, gone or hung (an NFS server
that stopped answering blocks every write for as long as it is down) leaves decisions going on.
Checkpoints waiting for it are bounded; one dropped leaves a gap that the next one covers, since each
signs the whole tree.
"""

from __future__ import annotations

import logging
import queue
from pathlib import Path

from mlobs.audit.background import start_thread
from mlobs.audit.keys.signing import Checkpoint, append_checkpoint_file

log = logging.getLogger(__name__)

WAITING = 1_000  # checkpoints held for a mirror that does not answer: about 17 minutes at one a second


class Mirror:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.dropped = 0
        self._queue: queue.Queue[Checkpoint | None] = queue.Queue(WAITING)
        self._thread = start_thread(self._run, "mlobs-audit-mirror")

    def put(self, checkpoint: Checkpoint) -> None:
        """Queue a checkpoint for the mirror; never blocks."""
        try:
            self._queue.put_nowait(checkpoint)
        except queue.Full:
            self.dropped += 1
            log.error("audit: checkpoint mirror not written: %d checkpoints already wait for its volume", WAITING)

    def _run(self) -> None:
        while (checkpoint := self._queue.get()) is not None:
            try:
                append_checkpoint_file(self.path, checkpoint)
            except OSError as exc:
                log.error("audit: checkpoint mirror not written: %s", exc)

    def close(self, timeout: float) -> None:
        """Write what is queued, within `timeout` (a mirror that does not answer is left behind)."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)
