"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and their verification.

leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right); the root of n leaves splits
at the largest power of two below n. Trees are described by their perfect subtrees: node
(level, index) covers leaves [index * 2**level, (index + 1) * 2**level).

Proof builders take a `subtree(level, index) -> bytes` function, so they work on any store
that can produce the hash of a perfect subtree (mlobs.audit.storage.tree_store keeps some levels and
computes the rest).
"""

from __future__ import annotations

import hashlib
from typing import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Subtree = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof that does not verify, or is malformed."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_below(n: int) -> int:
    """The largest power of two strictly below n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(lo: int, hi: int) -> list[tuple[int, int]]:
    """The aligned perfect subtrees (level, index) that cover leaves [lo, hi), left to right,
    each as large as its position allows (a compact range)."""
    left: list[tuple[int, int]] = []
    right: list[tuple[int, int]] = []
    level = 0
    while lo < hi:
        if lo & 1:
            left.append((level, lo))
            lo += 1
        if hi & 1:
            hi -= 1
            right.append((level, hi))
        lo >>= 1
        hi >>= 1
        level += 1
    return left + right[::-1]


def fold(hashes: Sequence[bytes]) -> bytes:
    """The root of a range from its perfect subtrees (left to right): fold from the right."""
    if not hashes:
        return EMPTY_ROOT
    out = hashes[-1]
    for h in reversed(hashes[:-1]):
        out = node_hash(h, out)
    return out


def range_hash(subtree: Subtree, lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for a range that starts on a boundary of its own size's power of two, as
    every range a proof needs does."""
    return fold([subtree(level, index) for level, index in perfect_subtrees(lo, hi)])


def tree_root(subtree: Subtree, size: int) -> bytes:
    return range_hash(subtree, 0, size)


def inclusion_proof(subtree: Subtree, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 section 2.1.3.1, leaf to root."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    out: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = largest_power_below(hi - lo)
        if index < lo + k:
            out.append(range_hash(subtree, lo + k, hi))
            hi = lo + k
        else:
            out.append(range_hash(subtree, lo, lo + k))
            lo += k
    return out[::-1]


def consistency_proof(subtree: Subtree, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 9162 section 2.1.4.1."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    out: list[bytes] = []
    lo, hi, m, whole = 0, second, first, True
    while m != hi - lo:
        k = largest_power_below(hi - lo)
        if m <= k:
            out.append(range_hash(subtree, lo + k, hi))
            hi = lo + k
        else:
            out.append(range_hash(subtree, lo, lo + k))
            lo += k
            m -= k
            whole = False
    if not whole:
        out.append(range_hash(subtree, lo, hi))
    return out[::-1]


def _check_hashes(*hashes: bytes) -> None:
    for h in hashes:
        if len(h) != HASH_SIZE:
            raise ProofError(f"a hash of {len(h)} bytes, not {HASH_SIZE}")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: the root the proof leads to from the leaf hash."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_hashes(leaf, *proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raises ProofError unless the leaf is at `index` of the tree of `size` with `root`."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 section 2.1.4.2: raises ProofError unless the tree of size `second` extends the
    tree of size `first`."""
    _check_hashes(*proof)
    if second < first:
        raise ProofError(f"the second tree ({second}) is smaller than the first ({first})")
    if first == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if first == second:
        if proof:
            raise ProofError("trees of one size need an empty proof")
        if first_root != second_root:
            raise ProofError("two different roots for one tree size")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != first_root:
        raise ProofError("consistency proof does not lead to the first root")
    if sr != second_root:
        raise ProofError("consistency proof does not lead to the second root")


class CompactRange:
    """The perfect subtrees covering leaves [start, end), kept as (level, index, hash): appending
    merges siblings as they complete. From start 0 it is the tree's right edge (its root is
    `root()`); ranges checked apart can be joined with `extend`."""

    __slots__ = ("nodes", "end")

    def __init__(self, start: int = 0, nodes: list[tuple[int, int, bytes]] | None = None) -> None:
        self.nodes = list(nodes or [])
        self.end = start
        if self.nodes:
            level, index, _ = self.nodes[-1]
            self.end = (index + 1) << level

    def push(self, level: int, index: int, digest: bytes, completed: list | None = None) -> None:
        """Append the perfect subtree (level, index), which must start at `end`. Each node made by
        merging is appended to `completed` as (level, index, hash)."""
        nodes = self.nodes
        nodes.append((level, index, digest))
        self.end = (index + 1) << level
        while len(nodes) > 1:
            l2, i2, h2 = nodes[-1]
            l1, i1, h1 = nodes[-2]
            if l1 != l2 or i1 & 1 or i1 + 1 != i2:
                break
            merged = (l1 + 1, i1 >> 1, node_hash(h1, h2))
            nodes[-2:] = [merged]
            if completed is not None:
                completed.append(merged)

    def append_leaves(self, leaves: Sequence[bytes], completed: list | None = None) -> None:
        """Append leaf hashes; pairs are hashed a level at a time (a list comprehension per level)."""
        if not leaves:
            return
        lo, hi = self.end, self.end + len(leaves)
        level, row = 0, list(leaves)
        pending: list[tuple[int, int, bytes]] = []  # what the right edge leaves over, right to left
        while row:
            if lo & 1:  # a right child whose left sibling is already in the range
                self.push(level, lo, row[0], completed)
                row = row[1:]
                lo += 1
            if row and hi & 1:  # a left child whose sibling has not arrived
                hi -= 1
                pending.append((level, hi, row[-1]))
                row = row[:-1]
            if not row:
                break
            row = [node_hash(a, b) for a, b in zip(row[0::2], row[1::2])]
            lo >>= 1
            hi >>= 1
            level += 1
            if completed is not None:
                completed.extend((level, lo + i, h) for i, h in enumerate(row))
        for node in reversed(pending):
            self.push(*node, completed)

    def extend(self, other: CompactRange, completed: list | None = None) -> None:
        for node in other.nodes:
            self.push(*node, completed)

    def root(self) -> bytes:
        return fold([h for _, _, h in self.nodes])

    def copy(self) -> CompactRange:
        out = CompactRange()
        out.nodes, out.end = list(self.nodes), self.end
        return out
