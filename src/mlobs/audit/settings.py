"""Audit log settings (MLOBS_AUDIT__*), part of mlobs.settings.Settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator

MIN_TOKEN_LENGTH = 16


class AuditSettings(BaseModel):
    """Every audit knob. Paths left as None are placed under a base directory by `resolved`."""

    # false: no audit log is opened; the services answer decisions without an audit receipt (and never
    # 503 for the log) and only count security events.
    enabled: bool = True
    # "sqlite:///abs/path/audit.db" or "postgresql://user@host:port/db"
    store_url: str | None = None
    # Pseudonymisation keyring and checkpoint signing key: kept apart from the log.
    keys_dir: Path | None = None
    # Per-subject encryption keys: their own database, never the audit log's.
    subject_keys_path: Path | None = None
    # Optional append-only copy of every signed checkpoint, ideally on other media.
    checkpoint_mirror: Path | None = None

    # Days the raw request payloads (encrypted, for debugging) are kept before a purge deletes them;
    # `mlobs audit verify` reports a raw row kept more than a day past this, by the verifier's setting.
    raw_retention_days: float = Field(7.0, gt=0)
    # Model artifacts are kept this long after they leave service, so that their decisions can be
    # replayed (`mlobs audit prune-artifacts`): 25 months, as Reg B 1002.12(b) asks.
    artifact_retention_days: float = Field(761.0, gt=0)
    # A service purges raw payloads past their retention this often (0: only `mlobs audit purge`).
    raw_purge_interval_s: float = Field(3600.0, ge=0)
    # Records accepted but not yet durable, at most: past it a decision is refused at once (503)
    # rather than queued behind a store that has stopped keeping up.
    queue_size: int = Field(10_000, gt=0)
    # Records per group commit (one transaction, one fsync), at most: under load a group holds what
    # arrived during the previous commit, so the cost of an fsync is shared by up to this many.
    max_batch: int = Field(1_000, gt=0)
    # A signed checkpoint each time the log grows past another multiple of this many records.
    checkpoint_every: int = Field(10_000, gt=0)
    # A signed checkpoint at least this often while records arrive, and this long after the last
    # record when they stop: at most about this much of the log is ever covered by no signature.
    checkpoint_interval_s: float = Field(1.0, gt=0)
    # The log's name in its signed checkpoints (the C2SP origin line and the key name).
    origin: str = Field("mlobs.local/audit", min_length=1, pattern=r"^[^\s+]+$")
    # Bearer token a witness presents to GET /audit/checkpoint and /audit/consistency (unset or empty:
    # refused; shorter than 16 characters: an error at start).
    witness_token: SecretStr | None = None
    # SHA-256 (hex) of the raw Ed25519 checkpoint key that `mlobs audit verify` trusts when no
    # --public-key is given; the key in the log's own directory is never trusted by itself.
    public_key_fingerprint: str | None = None
    # Seconds a request waits for its record to become durable; past it the decision answers 503,
    # never without a record.
    append_timeout_s: float = Field(10.0, gt=0)
    # Seconds a SQLite connection (the log's, the subject keys') waits for a lock another writer
    # holds before failing; processes sharing one log take turns within it.
    busy_timeout_s: float = Field(10.0, gt=0)
    # Seconds any one exchange with a PostgreSQL store may take: connecting (in whole seconds, at least
    # 2), a statement, a commit, a chunk of rows. Past it the connection is dropped and the operation
    # fails; the next one connects afresh. A server that stops answering (a partition, a hung host)
    # then costs refused decisions while it lasts, never a writer stuck after it is back. A query's rows
    # arrive within it too: raise it for a command that reads a large part of the log in one query.
    store_timeout_s: float = Field(10.0, gt=0)
    # New subject keys are appended (cheap), then move into the key store's table ordered by
    # pseudonym at least this many at a time (up to ten times as many when the store is large).
    # Every process holds the appended ones in memory, about 250 bytes each.
    subject_keys_merge_at: int = Field(10_000, gt=0)

    @field_validator("witness_token")
    @classmethod
    def _a_token_worth_the_name(cls, token: SecretStr | None) -> SecretStr | None:
        """Empty is unset (a token file read by `$(cat ...)` that is missing gives ""; as a token it would
        let in anyone who sends "Bearer "); a short one is refused rather than guessed."""
        if token is None or not token.get_secret_value().strip():
            return None
        if len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"the witness token must be at least {MIN_TOKEN_LENGTH} characters")
        return token

    def resolved(self, base_dir: Path) -> AuditSettings:
        """A copy with every unset path placed under base_dir."""
        base_dir = Path(base_dir)
        keys_dir = self.keys_dir or base_dir / "keys"
        return self.model_copy(
            update={
                "store_url": self.store_url or f"sqlite:///{base_dir / 'audit.db'}",
                "keys_dir": keys_dir,
                "subject_keys_path": self.subject_keys_path or keys_dir / "subject_keys.db",
            }
        )
