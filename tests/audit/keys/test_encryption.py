from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from mlobs.audit.keys.encryption import decrypt, encrypt


def test_ciphertext_round_trips_and_is_bound_to_its_record():
    key = bytes(32)
    box = encrypt(key, {"name": "x"}, b"decision-1")
    assert decrypt(key, box, b"decision-1") == {"name": "x"}
    with pytest.raises(InvalidTag):
        decrypt(key, box, b"decision-2")
