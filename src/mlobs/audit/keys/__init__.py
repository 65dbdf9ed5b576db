"""The audit log's keys: the checkpoint signing key and its rotation, the pseudonym keyring, the
per-subject encryption keys and the erasable subject mapping kept beside them. Imports neither
storage nor verification."""
