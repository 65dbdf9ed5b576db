"""`mlobs audit ...`: query, verify, export, forget, purge, raw, replay, checkpoint, public-key."""

from __future__ import annotations

import argparse
import csv
import getpass
import sys
from pathlib import Path

import orjson

from mlobs.audit.proof_cli import register as register_proofs
from mlobs.audit.proof_cli import run_on_log as _run
from mlobs.audit.record import HEADER_COLUMNS

CSV_COLUMNS = [c for c in HEADER_COLUMNS] + ["hash", "inputs", "output", "reason_codes", "latency_ms", "personal",
                                              "details", "model_inputs", "artifact_sha256", "raw_sha256"]


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="query, verify and export the regulatory audit log")
    sub = audit.add_subparsers(dest="audit_command", required=True)

    query = sub.add_parser("query", help="records as JSON lines or CSV")
    query.add_argument("--subject", help="raw subject id (matched under every pseudonym key)")
    query.add_argument("--decision-id")
    query.add_argument("--trace-id")
    query.add_argument("--model-version")
    query.add_argument("--outcome")
    query.add_argument("--event-type", help="decision, erasure, raw_access, personal_access")
    query.add_argument("--since", help="ISO time, inclusive")
    query.add_argument("--until", help="ISO time, exclusive")
    query.add_argument("--limit", type=count(0))
    query.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    query.set_defaults(func=_query)

    register_proofs(sub)  # verify, prove, check-proof

    export = sub.add_parser("export", help="a bundle for a regulator")
    export.add_argument("outdir", type=Path)
    export.set_defaults(func=_export)

    forget = sub.add_parser("forget", help="erase a subject: destroy their keys, record the erasure")
    forget.add_argument("subject")
    forget.add_argument("--actor", default=_whoami())
    forget.add_argument("--reason", default="data subject erasure request")
    forget.set_defaults(func=_forget)

    purge = sub.add_parser("purge", help="delete raw payloads past their retention")
    purge.set_defaults(func=_purge)

    raw = sub.add_parser("raw", help="read a raw request payload (the read is recorded)")
    raw.add_argument("--decision-id", required=True)
    raw.add_argument("--reason", required=True)
    raw.add_argument("--actor", default=_whoami())
    raw.set_defaults(func=_raw)

    replay = sub.add_parser("replay", help="re-run decisions with the exact artifact that made them; "
                                           "exit 1 on any difference, 3 if one cannot be replayed")
    replay.add_argument("decision_ids", nargs="*", metavar="DECISION_ID")
    replay.add_argument("--sample", type=count(1), help="also replay N decisions drawn at random")
    replay.add_argument("--model-version", help="draw the sample from this model version only")
    replay.add_argument("--artifacts-dir", type=Path, help="default: MLOBS_ARTIFACTS_DIR")
    replay.add_argument("--actor", default=_whoami())
    replay.add_argument("--reason", default="decision replay", help="recorded with each read of the inputs")
    replay.set_defaults(func=_replay)

    prune = sub.add_parser("prune-artifacts", help="delete model artifacts retired longer ago than "
                                                   "MLOBS_AUDIT__ARTIFACT_RETENTION_DAYS (default 25 months)")
    prune.add_argument("--artifacts-dir", type=Path, help="default: MLOBS_ARTIFACTS_DIR")
    prune.set_defaults(func=_prune_artifacts)

    checkpoint = sub.add_parser("checkpoint", help="sign the current head now")
    checkpoint.set_defaults(func=_checkpoint)

    public = sub.add_parser("public-key", help="print the checkpoint public key (PEM)")
    public.set_defaults(func=_public_key)


def count(least: int):
    """An argparse type: a whole number from `least` up to what a store's integer holds."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not least <= value < 2**63:
            raise argparse.ArgumentTypeError(f"{value} is not between {least} and 2**63 - 1")
        return value
    return parse


def _whoami() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _query(args: argparse.Namespace) -> int:
    def action(log) -> int:
        records, problems = log.query_checked(
            subject=args.subject,
            decision_id=args.decision_id,
            trace_id=args.trace_id,
            model_version=args.model_version,
            outcome=args.outcome,
            event_type=args.event_type,
            since=args.since,
            until=args.until,
            limit=args.limit,
        )
        out = sys.stdout
        if args.format == "jsonl":
            for record in records:
                out.write(orjson.dumps(record).decode() + "\n")
        else:
            writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for record in records:
                writer.writerow({k: _cell(record.get(k)) for k in CSV_COLUMNS})
        for problem in problems:
            print(f"audit: unreadable, left out: {problem}", file=sys.stderr)
        return 1 if problems else 0

    return _run(args, action, read_only=True)


def _cell(value):
    return orjson.dumps(value).decode() if isinstance(value, (dict, list)) else value


def _export(args: argparse.Namespace) -> int:
    from mlobs.audit.export import export_bundle

    def action(log) -> int:
        report = export_bundle(log, args.outdir)
        print(f"exported {report.records} records to {args.outdir}: verification {'OK' if report.ok else 'FAILED'}")
        for line in ([f"first bad: {report.problem}"] if report.problem else []) + report.notes:
            print(f"audit: {line}", file=sys.stderr)
        return 0 if report.ok else 1

    return _run(args, action, read_only=True)


def _forget(args: argparse.Namespace) -> int:
    def action(log) -> int:
        receipt = log.forget(args.subject, actor=args.actor, reason=args.reason)
        record = log.query(decision_id=receipt.decision_id)
        if record and not (record[0].get("output") or {}).get("erased_keys_for"):
            # A mistyped id or one erased before: saying "erased" would leave the real subject's data in place.
            print(f"audit: nothing is linked to this subject id (never seen, mistyped, or erased before): nothing "
                  f"erased; the request is recorded as seq {receipt.seq}", file=sys.stderr)
            return 1
        print(f"subject erased; erasure recorded as seq {receipt.seq} (decision {receipt.decision_id})")
        return 0

    return _run(args, action)


def _purge(args: argparse.Namespace) -> int:
    def action(log) -> int:
        purged = log.purge()
        print("another purge of this log is running: nothing purged" if purged is None
              else f"purged {purged} expired raw payloads")
        return 0

    return _run(args, action)


def _raw(args: argparse.Namespace) -> int:
    def action(log) -> int:
        value = log.read_raw(args.decision_id, reason=args.reason, actor=args.actor)
        if value is None:
            print(f"no raw payload retained for decision {args.decision_id}", file=sys.stderr)
            return 1
        print(orjson.dumps(value).decode())
        return 0

    return _run(args, action)


def _replay(args: argparse.Namespace) -> int:
    from mlobs.audit.replay import CANNOT, DIFFERENT, replay, sample_ids
    from mlobs.settings import Settings

    artifacts_dir = args.artifacts_dir or Settings().artifacts_dir

    def action(log) -> int:
        ids = list(args.decision_ids)
        if args.sample:
            ids += sample_ids(log, args.sample, args.model_version)
        if not ids:
            print("audit: nothing to replay (name decision ids or --sample N)", file=sys.stderr)
            return 2
        statuses = set()
        for decision_id in ids:
            result = replay(log, decision_id, artifacts_dir, actor=args.actor, reason=args.reason)
            statuses.add(result.status)
            print(result.text())
        print(f"replayed {len(ids)} decisions: " + ", ".join(sorted(statuses)))
        return 1 if DIFFERENT in statuses else 3 if CANNOT in statuses else 0

    return _run(args, action)


def _prune_artifacts(args: argparse.Namespace) -> int:
    from mlobs.artifact_retention import prune
    from mlobs.settings import Settings

    settings = Settings()
    root = args.artifacts_dir or settings.artifacts_dir
    if not Path(root).is_dir():
        print(f"audit: no artifacts directory at {root}", file=sys.stderr)
        return 2
    gone = prune(root, settings.audit.artifact_retention_days)
    for path in gone:
        print(f"deleted {path}")
    print(f"deleted {len(gone)} artifacts retired over {settings.audit.artifact_retention_days:g} days ago")
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    def action(log) -> int:
        cp = log.checkpoint()
        print(orjson.dumps(cp.to_dict()).decode() if cp else "log is empty: nothing to sign")
        return 0

    return _run(args, action)


def _public_key(args: argparse.Namespace) -> int:
    return _run(args, lambda log: (sys.stdout.write(log.public_key_pem().decode()), 0)[1])
