"""Key rotation attacked: a key retired by a rotation (the usual reason: it leaked) signs a rewritten
history after its rotation; rotations chained; a rotation by a key the verifier does not trust."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import attacker
from audit.factories import decision
from mlobs.audit import Decision
from mlobs.audit.checkpoint_note import NoteSigner, TreeHead
from mlobs.audit.keys.key_rotation import EVENT_KEY_ROTATION, rotate, statement
from mlobs.audit.keys.signing import Signer
from mlobs.audit.merkle import CompactRange, leaf_hash
from mlobs.audit.storage.tree_store import entry
from mlobs.audit.verification.trust_verify import verify_log

TS = "2026-01-01T00:00:00.000000Z"


def rotated(make_log, rotations: int) -> tuple[list, list[int]]:
    """A closed log of decisions with `rotations` key rotations among them: every key it signed with
    (first the one a verifier trusts) and the seq of each rotation record."""
    log = make_log()
    keys, at = [log.signer.private_key()], []
    for r in range(rotations):
        for i in range(12):
            log.append(decision(100 * r + i))
        rotate(log, "ops")
        at.append(log.store.head()[0])  # the rotation record
        keys.append(log.signer.private_key())
    for i in range(20):
        log.append(decision(1000 + i))
    log.checkpoint()
    log.close()
    return keys, at


def resign_after(store_url: str, origin: str, private, after: int) -> None:
    """Every tree head and chain checkpoint past `after` replaced by ones `private` signs."""
    signer, notes = Signer(private), NoteSigner(origin, private)
    rows = attacker.rows(store_url)
    statements = [("DELETE FROM audit_checkpoints WHERE seq > ?", (after,)),
                  ("DELETE FROM audit_tree_heads WHERE size > ?", (after,))]
    rng = CompactRange()
    for seq, header, payload, hash_ in rows:
        rng.append_leaves([leaf_hash(entry(header, bytes(payload)))])
        if seq > after and (seq % 10 == 0 or seq == len(rows)):
            cp = signer.sign(seq, hash_, TS)
            statements.append(("INSERT INTO audit_checkpoints VALUES (?, ?, ?, ?, ?)",
                               (cp.seq, cp.hash, cp.ts, cp.key_id, cp.signature)))
            statements.append(("INSERT INTO audit_tree_heads VALUES (?, ?)",
                               (seq, notes.sign(TreeHead(origin, seq, rng.root(), hash_)))))
    attacker.run(store_url, statements)


@pytest.mark.parametrize("rotations, leaked", [(1, 0), (2, 0), (2, 1)],
                         ids=["the key rotated away", "the first of two", "the second of three"])
def test_a_retired_key_signing_a_history_rewritten_after_its_rotation_fails_verify(
        make_log, store_url, audit_settings, rotations, leaked):
    keys, at = rotated(make_log, rotations)
    trusted = keys[0].public_key()
    assert verify_log(store_url, trusted).ok  # the rotations alone: the verifier follows them
    attacker.rewrite_from(store_url, at[-1] + 2, "overturned")
    resign_after(store_url, audit_settings.origin, keys[leaked], at[leaked] + 1)
    report = verify_log(store_url, trusted)
    assert not report.ok and "retired" in report.problem.what, report.text()


def test_a_history_rewritten_after_a_rotation_and_left_unsigned_still_fails_verify(make_log, store_url):
    keys, at = rotated(make_log, 1)
    attacker.rewrite_from(store_url, at[0] + 2, "overturned")
    report = verify_log(store_url, keys[0].public_key())
    assert not report.ok


def test_a_rotation_signed_by_a_key_the_verifier_does_not_trust_grants_nothing_even_after_a_real_one(
        make_log, store_url, audit_settings):
    keys, _ = rotated(make_log, 1)
    thief = Ed25519PrivateKey.generate()
    log = make_log()
    log.append(Decision(service="mlobs.audit", model="", model_version="", output={}, event_type=EVENT_KEY_ROTATION,
                        details={"statement": statement(log.settings.origin, thief, thief.public_key())}))
    forged_at = log.store.head()[0]
    log.close()
    resign_after(store_url, audit_settings.origin, thief, forged_at - 1)
    report = verify_log(store_url, keys[0].public_key())
    assert not report.ok and "trusted key" in report.problem.what, report.text()
