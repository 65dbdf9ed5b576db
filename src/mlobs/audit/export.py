"""A bundle for a regulator: records, checkpoints, public key and a verification report."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import orjson

from mlobs.audit.files import open_private, private_dir
from mlobs.audit.record import HEADER_COLUMNS, STORED_COLUMNS
from mlobs.audit.keys.signing import Checkpoint, load_public_key, read_checkpoint_file
from mlobs.audit.strict import BadRow, decode_row
from mlobs.audit.verify import Problem, VerifyReport, verify_rows

README = """Audit log export
================
records.jsonl      one stored record per line, in chain order: "header" and "payload" are the
                   exact JSON texts that were hashed; personal inputs inside the payload are
                   encrypted per subject.
checkpoints.jsonl  Ed25519-signed (seq, hash) checkpoints.
public_key.pem     the key that signed them (compare with the published copy).
verification.json  the verification report, also in verification.txt.

Each record's hash is SHA-256 over the header (a compact JSON array of the fields
[{header}]), a newline, then the payload bytes.
prev_hash is the previous record's hash (64 zeros for the first). A checkpoint signs the
compact JSON array ["mlobs-audit-checkpoint-v1", seq, hash, ts, key_id].
To re-check the bundle: mlobs audit verify --bundle THIS_DIRECTORY
"""


def export_bundle(log, outdir: Path) -> VerifyReport:
    """Write the bundle for `log` (an AuditLog) into outdir and return the verification report.
    Every file is 0600 and a directory it creates 0700, as the log's own files: the records carry
    pseudonyms and encrypted personal fields."""
    outdir = private_dir(Path(outdir))
    unreadable = []  # rows that are not well-formed records: reported, left out, and the export goes on
    with open_private(outdir / "records.jsonl") as handle:
        for row in log.store.iter_rows():
            seq, header, payload, hash_ = row
            try:
                decode_row(row)
                item = {"seq": seq, "header": header, "payload": bytes(payload).decode("utf-8"), "hash": hash_}
            except BadRow as bad:
                unreadable.append(bad.problem)
                continue
            except UnicodeDecodeError:
                unreadable.append(Problem(seq, None, "payload is not UTF-8"))
                continue
            handle.write(orjson.dumps(item) + b"\n")
    checkpoints = log.store.checkpoints()
    with open_private(outdir / "checkpoints.jsonl") as handle:
        for cp in checkpoints:
            handle.write(orjson.dumps(cp.to_dict()) + b"\n")
    _write(outdir / "public_key.pem", log.public_key_pem())
    report = verify_bundle(outdir)
    if unreadable:
        report.ok = False
        first = unreadable[0]
        report.problem = report.problem if report.problem and (report.problem.seq or 0) < first.seq else first
        report.notes += [f"left out of the export: {problem}" for problem in unreadable]
    _write(outdir / "verification.json", orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))
    _write(outdir / "verification.txt", (report.text() + "\n").encode())
    _write(outdir / "README.txt", README.format(header=", ".join(HEADER_COLUMNS)).encode())
    return report


def _write(path: Path, data: bytes) -> None:
    with open_private(path) as handle:
        handle.write(data)


def bundle_rows(outdir: Path) -> Iterator[tuple]:
    """The stored rows a bundle's records.jsonl holds; ValueError naming the first line that is not one."""
    with open(Path(outdir) / "records.jsonl", "rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                item = orjson.loads(line)
                item["payload"] = item["payload"].encode("utf-8")
                yield tuple(item[c] for c in STORED_COLUMNS)
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise ValueError(f"records.jsonl line {number} is not an exported record (edited or cut)") from None


def verify_bundle(outdir: Path, extra_checkpoints: list[Checkpoint] | None = None) -> VerifyReport:
    outdir = Path(outdir)
    checkpoints = read_checkpoint_file(outdir / "checkpoints.jsonl") + list(extra_checkpoints or [])
    return verify_rows(bundle_rows(outdir), checkpoints, [load_public_key(outdir / "public_key.pem")])
