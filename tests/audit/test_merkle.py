"""RFC 9162 hashing and proofs against the published transparency-dev/merkle test vectors."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest

from mlobs.audit.merkle import (
    CompactRange,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads((Path(__file__).parent / "data" / "transparency_dev_merkle_vectors.json").read_text())


def b64(items):
    return [base64.b64decode(x) for x in items or []]


def levels_of(leaves: list[bytes]):
    """A subtree function over an in-memory tree: every complete level kept."""
    levels = [[leaf_hash(x) for x in leaves]]
    while len(levels[-1]) > 1:
        row = levels[-1]
        levels.append([node_hash(a, b) for a, b in zip(row[0::2], row[1::2])])
    return lambda level, index: levels[level][index]


REFERENCE = [bytes.fromhex(x) for x in VECTORS["reference_tree"]["leaf_inputs_hex"]]
ROOTS = [bytes.fromhex(x) for x in VECTORS["reference_tree"]["root_hashes_hex"]]


@pytest.mark.parametrize("size", range(1, 9))
def test_root_of_the_reference_tree_matches_the_published_root_at_every_size(size):
    assert tree_root(levels_of(REFERENCE[:size]), size) == ROOTS[size]


@pytest.mark.parametrize("size", range(0, 9))
def test_compact_range_built_leaf_by_leaf_or_in_one_go_gives_the_published_root(size):
    one, many = CompactRange(), CompactRange()
    for i, x in enumerate(REFERENCE[:size]):
        one.push(0, i, leaf_hash(x))
    many.append_leaves([leaf_hash(x) for x in REFERENCE[:size]])
    assert one.root() == many.root() == ROOTS[size]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: c["file"].removeprefix("testdata/"))
def test_inclusion_vector_verifies_exactly_when_upstream_says_it_should(case):
    def check():
        verify_inclusion(case["leafIdx"], case["treeSize"], base64.b64decode(case["leafHash"] or ""),
                         b64(case["proof"]), base64.b64decode(case["root"] or ""))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: c["file"].removeprefix("testdata/"))
def test_consistency_vector_verifies_exactly_when_upstream_says_it_should(case):
    def check():
        verify_consistency(case["size1"], case["size2"], base64.b64decode(case["root1"] or ""),
                           base64.b64decode(case["root2"] or ""), b64(case["proof"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


def test_proofs_built_here_equal_the_published_happy_path_proofs():
    subtree = levels_of(REFERENCE)
    for case in VECTORS["inclusion"]:
        if case["desc"] == "happy path" and case["treeSize"] <= 8:
            assert inclusion_proof(subtree, case["leafIdx"], case["treeSize"]) == b64(case["proof"])
    for case in VECTORS["consistency"]:
        if case["desc"] == "happy path" and 0 < case["size1"] and case["size2"] <= 8:
            assert consistency_proof(subtree, case["size1"], case["size2"]) == b64(case["proof"])


def test_every_proof_of_a_random_tree_verifies_and_a_changed_leaf_does_not():
    rng = random.Random(7)
    leaves = [rng.randbytes(rng.randint(0, 40)) for _ in range(67)]
    subtree = levels_of(leaves)
    for size in range(1, 68):
        root = tree_root(subtree, size)
        partial = CompactRange()
        partial.append_leaves([leaf_hash(x) for x in leaves[:size]])
        assert partial.root() == root
        for index in range(0, size, 5):
            proof = inclusion_proof(subtree, index, size)
            verify_inclusion(index, size, leaf_hash(leaves[index]), proof, root)
            with pytest.raises(ProofError):
                verify_inclusion(index, size, leaf_hash(leaves[index] + b"x"), proof, root)
        for first in range(1, size + 1, 7):
            verify_consistency(first, size, tree_root(subtree, first), root, consistency_proof(subtree, first, size))


def test_compact_ranges_checked_apart_join_into_the_whole_tree():
    leaves = [leaf_hash(bytes([i])) for i in range(100)]
    whole = CompactRange()
    whole.append_leaves(leaves)
    joined = CompactRange()
    for lo, hi in ((0, 13), (13, 64), (64, 65), (65, 100)):
        part = CompactRange(lo)
        part.append_leaves(leaves[lo:hi])
        joined.extend(part)
    assert joined.root() == whole.root() and joined.nodes == whole.nodes


def test_completed_nodes_are_reported_once_each_with_their_position():
    leaves = [leaf_hash(bytes([i])) for i in range(37)]
    subtree = levels_of([bytes([i]) for i in range(37)])
    completed: list = []
    rng = CompactRange()
    for lo in range(0, 37, 5):
        rng.append_leaves(leaves[lo:lo + 5], completed)
    assert len(completed) == len(set((lv, ix) for lv, ix, _ in completed)) == 37 - bin(37).count("1")
    assert all(subtree(lv, ix) == h for lv, ix, h in completed)
