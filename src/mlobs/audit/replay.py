"""Decision replay: the exact artifact that made a recorded decision, re-run on its recorded inputs.

Each decision record names its model, version and the SHA-256 of the artifact's files, and
carries the exact inputs encrypted under the subject's key. Replay finds that artifact in the
artifacts directory (kept there for the retention period: see docs/audit-privacy.md), checks its
content hash, decrypts the inputs (a recorded read) and asks the model's replayer (through
mlobs.registry) for the output, outcome and reason codes, which must equal the recorded ones.
A forgotten subject's decisions cannot be replayed: their inputs are unreadable by design.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlobs import registry
from mlobs.artifacts import content_hash
from mlobs.audit.errors import AuditError, SubjectErased

MATCH, DIFFERENT, CANNOT = "match", "different", "cannot replay"
COMPARED = ("output", "outcome", "reason_codes")


@dataclass
class Replay:
    decision_id: str
    status: str  # MATCH, DIFFERENT or CANNOT
    why: str = ""
    artifact: str | None = None
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == MATCH

    def text(self) -> str:
        head = f"decision {self.decision_id}: {self.status}"
        if self.artifact:
            head += f" (artifact {self.artifact})"
        lines = [head + (f": {self.why}" if self.why else "")]
        return "\n".join(lines + [f"  {d}" for d in self.differences])


def replay(log, decision_id: str, artifacts_dir: Path, *, actor: str, reason: str = "decision replay") -> Replay:
    """Re-run one recorded decision with its own artifact; compare output, outcome and reason codes."""
    records, problems = log.query_checked(decision_id=decision_id, event_type="decision")
    if problems:
        return Replay(decision_id, CANNOT, f"its record is unreadable: {problems[0]}")
    if not records:
        return Replay(decision_id, CANNOT, "no such decision in the log")
    record = records[0]
    wanted = record.get("artifact_sha256")
    if not wanted:
        return Replay(decision_id, CANNOT, "its record names no artifact (recorded before artifacts were named)")
    module = registry.replayer(record["model"])
    if module is None:
        return Replay(decision_id, CANNOT, f"no replayer for model {record['model']!r}")
    directory = find_artifact(Path(artifacts_dir), record["model"], record["model_version"], wanted)
    if directory is None and (Path(artifacts_dir) / record["model"] / record["model_version"]).is_dir():
        return Replay(decision_id, CANNOT, f"artifact {record['model']}/{record['model_version']} in {artifacts_dir} "
                                          "does not have the recorded content hash (altered or replaced)")
    if directory is None:
        return Replay(decision_id, CANNOT, f"artifact {record['model']}/{record['model_version']} with content "
                                          f"hash {wanted[:16]}... is not kept in {artifacts_dir}")
    try:
        inputs = log.decrypted(decision_id, "model_inputs", reason=reason, actor=actor)
    except SubjectErased:
        return Replay(decision_id, CANNOT, "the subject was erased: their inputs are unreadable, so the decision "
                                          "cannot be replayed", directory.name)
    except AuditError as exc:
        return Replay(decision_id, CANNOT, str(exc), directory.name)
    if inputs is None:
        return Replay(decision_id, CANNOT, "its record carries no model inputs")
    again = module.replay(directory, inputs)
    differences = [f"{name}: recorded {record.get(name)!r}, replayed {again.get(name)!r}"
                   for name in COMPARED if record.get(name) != again.get(name)]
    return Replay(decision_id, DIFFERENT if differences else MATCH, "", directory.name, differences)


def find_artifact(artifacts_dir: Path, model: str, version: str, sha256: str) -> Path | None:
    """The artifact directory whose files hash to `sha256`: the recorded version's, else any other
    version of the model with those exact files; None if no kept artifact matches."""
    root = artifacts_dir / model
    named = root / version
    candidates = [named] + sorted(p for p in root.glob("*") if p.is_dir() and p != named and not p.name.startswith("."))
    for directory in candidates:
        if directory.is_dir() and content_hash(directory) == sha256:
            return directory
    return None


def sample_ids(log, n: int, model_version: str | None = None, seed: int | None = None) -> list[str]:
    """Up to n decision ids drawn at random from the log (optionally of one model version)."""
    import random

    ids = [r["decision_id"] for r in log.query(event_type="decision", model_version=model_version)]
    return random.Random(seed).sample(ids, min(n, len(ids)))
