"""Where the audit log is kept: the store protocol, its SQLite and PostgreSQL backends, the Merkle
tree's stored nodes, the lookups by subject and trace id, the raw store, and the read-only row
source verification reads them through. Imports the keys (checkpoints, decryption), never
verification."""
