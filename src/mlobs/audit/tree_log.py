"""The committer's Merkle tree: extended with each group's records, signed only when proven.

Runs inside the store's chain lock (the group's transaction), on the committer thread, so the
request path never pays for it. Per group: one leaf hash per record and the interior nodes that
complete (`CompactRange.append_leaves`), the stored ones written in the group's commit.

A checkpoint is signed every `checkpoint_every` records, at least every `interval_s` while
records arrive, and when asked. Before signing, the new tree head is proven consistent (an RFC
9162 consistency proof built from the store, verified here) with the last head this key signed,
which is kept with the key, not in the log. When the store contradicts it (rolled back, truncated,
rewritten under the signed head), nothing is signed or recorded again: every group fails with
IntegrityFailure, which services answer with a 503.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import time
from pathlib import Path

from mlobs.audit.checkpoint_note import NoteError, NoteSigner, TreeHead, open_checkpoint
from mlobs.audit.errors import AuditUnavailable
from mlobs.audit.merkle import (
    CompactRange,
    ProofError,
    consistency_proof,
    leaf_hash,
    perfect_subtrees,
    tree_root,
    verify_consistency,
)
from mlobs.audit.files import private_file
from mlobs.audit.keys.pseudonym import write_private
from mlobs.audit.record import GENESIS_HASH
from mlobs.audit.storage.tree_store import STRIDE, TreeMissing, entry, open_reader, stored_nodes

log = logging.getLogger(__name__)

HEAD_FILE = "checkpoint_signing.head"  # the last tree head this key signed, beside the key
REBUILD_CHUNK = 10_000  # a multiple of 16


class IntegrityFailure(AuditUnavailable):
    """The log contradicts what its key last signed: nothing is signed or recorded any more."""


class TreeLog:
    def __init__(self, url: str, keys_dir: Path, signer: NoteSigner, *, checkpoint_every: int,
                 interval_s: float, monotonic=time.monotonic, store_timeout_s: float = 10.0) -> None:
        self._reader, self._close = open_reader(url, readonly=False, timeout_s=store_timeout_s)
        self.signer = signer
        self._head_path = Path(keys_dir) / HEAD_FILE
        self._every = checkpoint_every
        self._interval = interval_s
        self._monotonic = monotonic
        self._range: CompactRange | None = None
        self._block: list[bytes] = []  # leaf hashes since the last multiple of 16, kept with their node
        self.size = 0
        self._chain = GENESIS_HASH
        self.signed: TreeHead | None = None
        self._signing: TreeHead | None = None  # signed in the group being committed
        self._unkept: TreeHead | None = None  # signed and committed, not yet kept beside the key
        self._last_signed_at = monotonic()
        self.failure: str | None = None
        # Time spent on the committer: hashing the tree (per group) and proving + signing heads.
        self.stats = {"integrity_failures": 0, "tree_heads": 0, "tree_seconds": 0.0, "tree_head_seconds": 0.0}

    # -- the committer's calls -----------------------------------------------------------------

    def build(self, batch, start_seq: int, start_prev: str, due: bool, ts: str) -> bool:
        """Extend the tree with the group's records (batch.records), add the nodes to store and,
        when a checkpoint is due, the proven and signed tree head. Returns whether a checkpoint
        was signed. Raises IntegrityFailure."""
        if self.failure is not None:
            self.stats["integrity_failures"] += 1
            raise IntegrityFailure(self.failure)
        self._signing = None
        if self._unkept is not None:  # OSError (a full keys volume): this group is refused, and not committed
            self._save_head(self._unkept)
            self._unkept = None
        started = time.perf_counter()
        try:
            rebuilt: list = []
            if self._range is None or self.size != start_seq or self._chain != start_prev:
                rebuilt = self._resync(start_seq, start_prev)
            first = self.size
            sha256 = hashlib.sha256  # leaf_hash(entry(...)) in one concatenation: this runs per record
            leaves = [sha256(b"\x00" + text.encode() + b"\n" + payload).digest()
                      for _, text, payload, _ in batch.records]
            completed: list = []
            self._range.append_leaves(leaves, completed)
            window, window_first = self._block + leaves, first - len(self._block)
            batch.tree_nodes = rebuilt + stored_nodes(completed, window, window_first)
            end = first + len(leaves)
            self._block = window[(end >> STRIDE << STRIDE) - window_first :]
            if batch.records:
                self.size = batch.records[-1][0]
                self._chain = batch.records[-1][3]
            signed_size = self.signed.size if self.signed is not None else 0
            crossed = self.size // self._every > first // self._every
            late = self._monotonic() - self._last_signed_at >= self._interval
            if not (self.size > signed_size and (due or crossed or late)):
                self.stats["tree_seconds"] += time.perf_counter() - started
                return False
            hashed = time.perf_counter()
            overlay = {(0, first + i): h for i, h in enumerate(leaves)}
            overlay.update({(lv, ix): h for lv, ix, h in completed})
            head = TreeHead(self.signer.name, self.size, self._range.root(), self._chain, ts)
            self._prove(head, overlay)
        except TreeMissing as exc:
            self._fail(f"the log's Merkle tree is incomplete: {exc}")
        self._signing = head
        batch.tree_note = (head.size, self.signer.sign(head))
        now = time.perf_counter()
        self.stats["tree_seconds"] += now - started
        self.stats["tree_head_seconds"] += now - hashed
        return True

    def committed(self) -> None:
        """After the group's commit: the head signed in it becomes the last signed head. Its records
        are durable, so a head that cannot be kept beside the key (its volume full) fails no caller:
        the next group keeps it before it commits, or is refused."""
        head, self._signing = self._signing, None
        if head is None:
            return
        self.signed = head
        self._last_signed_at = self._monotonic()
        self.stats["tree_heads"] += 1
        try:
            self._save_head(head)
        except OSError as exc:
            self._unkept = head
            log.error("audit: the signed tree head of size %d not kept beside the key (%s); nothing more is "
                      "recorded until it is", head.size, exc)

    def aborted(self) -> None:
        """The group's transaction rolled back: forget what it would have added."""
        self._signing = None
        self._range = None

    def close(self) -> None:
        try:
            self._close()
        except Exception:
            pass

    # -- proving -------------------------------------------------------------------------------

    def _prove(self, head: TreeHead, overlay: dict) -> None:
        """The new head against the last signed one: a consistency proof from the store, verified."""
        old = self.signed
        if old is None or old.size == 0:
            return
        self._reader.overlay = overlay
        try:
            proof = consistency_proof(self._reader.subtree, old.size, head.size)
            verify_consistency(old.size, head.size, old.root, head.root, proof)
        except ProofError as exc:
            self._fail(f"the new tree head (size {head.size}) is not consistent with the last signed one "
                       f"(size {old.size}): {exc}")
        finally:
            self._reader.overlay = {}

    def _resync(self, seq: int, prev: str) -> list:
        """Take up the tree at the store's head (first group, or another process wrote): from the
        stored nodes, or rebuilt from the records of a log that has none. Checks the store against
        the last signed head. Returns nodes to store."""
        self._range = None
        signed = self._load_head()
        if signed is not None and seq < signed.size:
            self._fail(f"the log holds {seq} records but its key last signed a tree of {signed.size}: "
                       "records were removed or the database was rolled back")
        if signed is not None and signed.size and self._reader.record_hash(signed.size) != signed.chain_head:
            self._fail(f"record {signed.size} is not the one the last signed checkpoint covers (records rewritten)")
        rebuilt: list = []
        try:
            rng = CompactRange()
            for level, index in perfect_subtrees(0, seq):
                rng.push(level, index, self._reader.subtree(level, index))
            root_then = tree_root(self._reader.subtree, signed.size) if signed is not None and signed.size else None
        except TreeMissing:
            rng, rebuilt, root_then = self._rebuild(seq, signed.size if signed is not None else 0)
        if signed is not None and signed.size and root_then != signed.root:
            self._fail(
                f"the log's tree at size {signed.size} is not the one its key signed (records or tree rewritten)"
            )
        self._range, self.size, self._chain, self.signed = rng, seq, prev, signed
        self._block = self._reader.leaves(seq >> STRIDE << STRIDE, seq & ((1 << STRIDE) - 1))
        return rebuilt

    def _rebuild(self, seq: int, at: int) -> tuple[CompactRange, list, bytes | None]:
        """The tree of a log written before it had one, from its records: the nodes to store, and
        its root at `at`. (Chunks are whole blocks of 16, so each chunk's blocks are its own.)"""
        rng, rows_out, root_at = CompactRange(), [], None
        for lo in range(1, seq + 1, REBUILD_CHUNK):
            hi = min(seq, lo + REBUILD_CHUNK - 1)
            rows = self._reader.records(lo, hi)
            if len(rows) != hi - lo + 1:
                raise IntegrityFailure(f"records {lo}..{hi} are not all in the log")
            leaves = [leaf_hash(entry(h, p)) for _, h, p, _ in rows]
            completed: list = []
            if lo <= at <= hi:
                rng.append_leaves(leaves[: at - lo + 1], completed)
                root_at = rng.root()
                rng.append_leaves(leaves[at - lo + 1 :], completed)
            else:
                rng.append_leaves(leaves, completed)
            rows_out += stored_nodes(completed, leaves, lo - 1)
        log.warning("audit: built the Merkle tree of %d records that had none", seq)
        return rng, rows_out, root_at

    def _fail(self, why: str) -> None:
        self.failure = why
        self.stats["integrity_failures"] += 1
        log.error("audit: AuditLogIntegrityFailure: %s; nothing more is signed or recorded", why)
        raise IntegrityFailure(f"audit log integrity failure: {why}")

    # -- the last signed head, kept with the key -----------------------------------------------

    def _load_head(self) -> TreeHead | None:
        try:
            text = self._head_path.read_text()
        except FileNotFoundError:
            return None
        try:
            return open_checkpoint(text, self.signer.public, self.signer.name)
        except NoteError as exc:
            self._fail(f"the last signed checkpoint kept with the key ({self._head_path}) is not valid: {exc}")

    def _save_head(self, head: TreeHead) -> None:
        """Replace the kept head unless another process has kept a larger one meanwhile."""
        lock = private_file(self._head_path.with_name(HEAD_FILE + ".lock"))
        with open(lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                current = self._load_head()
            except IntegrityFailure:
                current = None
                self.failure = None
            if current is None or current.size < head.size:
                write_private(self._head_path, self.signer.sign(head).encode())


def open_tree(settings, store, signer) -> TreeLog:
    """The tree of an AuditLog opened for writing: signed with the checkpoint key under settings.origin."""
    url = settings.store_url
    return TreeLog(url, Path(settings.keys_dir), NoteSigner(settings.origin, signer.private_key()),
                   checkpoint_every=settings.checkpoint_every, interval_s=settings.checkpoint_interval_s,
                   store_timeout_s=settings.store_timeout_s)


class Checkpointer:
    """Asks for a checkpoint when records wait unsigned for `interval_s` and none arrive to carry it
    (the committer signs under load by itself): a bounded unsigned tail when the log goes quiet."""

    def __init__(self, audit_log, interval_s: float) -> None:
        import threading

        from mlobs.audit.background import start_thread

        self._log = audit_log
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = start_thread(self._run, "mlobs-audit-checkpointer")

    def _run(self) -> None:
        from mlobs.audit.record import format_ts
        from mlobs.audit.writer import Pending

        tree = self._log.tree
        while not self._stop.wait(self._interval):
            signed = tree.signed.size if tree.signed is not None else 0
            # Not yet taken up at the store's head (nothing appended since the open): a tail that a
            # killed process left unsigned would wait for the next decision; one request takes it up.
            unread = tree._range is None
            if tree.failure is None and (tree.size > signed or unread) and not self._log._writer.pending:
                try:
                    self._log._writer.submit(Pending(None, format_ts(self._log._clock()), checkpoint=True))
                except AuditUnavailable:
                    return  # closed

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
