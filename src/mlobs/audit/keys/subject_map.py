"""The erasable link between a raw subject id and the pseudonym its records carry.

A record's subject column holds a random pseudonym, never a function of the raw id. The link
lives only in the subject key store (apart from the log, secure_delete, WAL truncated on
erasure), as a mapping row: name "map:" + HMAC(keyring key, raw id) -> 32 random bytes, whose
hex is the pseudonym. The subject's encryption key is the key store's row under that pseudonym.
`forget` deletes both rows: the raw id then finds nothing (its HMAC names no mapping), and the
records it made keep a pseudonym that nothing links back, over inputs no key can decrypt.
The keyring's HMAC keeps raw ids out of the key store itself.
"""

from __future__ import annotations

from mlobs.audit.keys.pseudonym import Keyring
from mlobs.audit.keys.subject_keys import SubjectKeyStore

PREFIX = "map:"


def mapping_name(lookup: str) -> str:
    """The key store row of a subject's mapping, from the keyring HMAC of the raw id."""
    return PREFIX + lookup


def pseudonym_of(mapped: bytes) -> str:
    return mapped.hex()


def mapping_names(keyring: Keyring, subject: str) -> list[str]:
    """The mapping rows a raw id may have, one per keyring key (rotation never hides a subject)."""
    return [mapping_name(lookup) for lookup in keyring.all_pseudonyms(subject)]


def pseudonyms(keys: SubjectKeyStore, keyring: Keyring, subject: str) -> list[str]:
    """The pseudonyms a raw id is linked to now: none once it was forgotten (or never seen)."""
    found = []
    for name in mapping_names(keyring, subject):
        mapped = keys.get(name)
        if mapped is not None:
            found.append(pseudonym_of(mapped))
    return found
