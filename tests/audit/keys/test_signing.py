from __future__ import annotations

import dataclasses

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mlobs.audit.keys.signing import Signer, load_public_key, signature_ok


def test_checkpoint_signature_checks_and_survives_reload(tmp_path):
    signer = Signer.load_or_create(tmp_path)
    cp = signer.sign(10, "ab" * 32, "2026-01-01T00:00:00.000000Z")
    assert signature_ok(cp, [load_public_key(tmp_path / "checkpoint_signing.pub.pem")])
    assert Signer.load_or_create(tmp_path).key_id == signer.key_id


def test_altered_or_foreign_checkpoints_fail():
    signer = Signer(Ed25519PrivateKey.generate())
    cp = signer.sign(10, "ab" * 32, "2026-01-01T00:00:00.000000Z")
    assert not signature_ok(dataclasses.replace(cp, seq=11), [signer.public])
    assert not signature_ok(dataclasses.replace(cp, hash="cd" * 32), [signer.public])
    assert not signature_ok(cp, [Ed25519PrivateKey.generate().public_key()])
