"""`mlobs audit ...`: query, verify, export, forget, purge, raw, checkpoint, public-key."""

from __future__ import annotations

import argparse
import csv
import getpass
import sys
from pathlib import Path

import orjson

from mlobs.audit.errors import AuditError
from mlobs.audit.proof_cli import register as register_proofs
from mlobs.audit.record import HEADER_COLUMNS

CSV_COLUMNS = [c for c in HEADER_COLUMNS] + ["hash", "inputs", "output", "reason_codes", "latency_ms", "personal", "details"]


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
    query.add_argument("--limit", type=int)
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

    checkpoint = sub.add_parser("checkpoint", help="sign the current head now")
    checkpoint.set_defaults(func=_checkpoint)

    public = sub.add_parser("public-key", help="print the checkpoint public key (PEM)")
    public.set_defaults(func=_public_key)


def _whoami() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _open(read_only: bool = False):
    from mlobs.audit.log import AuditLog
    from mlobs.settings import Settings

    return AuditLog.open(Settings(), read_only=read_only)


def _run(args: argparse.Namespace, action, read_only: bool = False) -> int:
    try:
        log = _open(read_only)
    except (AuditError, OSError, ValueError) as exc:
        print(f"audit: cannot open the audit log: {exc}", file=sys.stderr)
        return 2
    try:
        return action(log)
    except AuditError as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return 2
    finally:
        log.close()


def _query(args: argparse.Namespace) -> int:
    def action(log) -> int:
        records = log.query(
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
        return 0

    return _run(args, action, read_only=True)


def _cell(value):
    return orjson.dumps(value).decode() if isinstance(value, (dict, list)) else value


def _export(args: argparse.Namespace) -> int:
    from mlobs.audit.export import export_bundle

    def action(log) -> int:
        report = export_bundle(log, args.outdir)
        print(f"exported {report.records} records to {args.outdir}: verification {'OK' if report.ok else 'FAILED'}")
        return 0 if report.ok else 1

    return _run(args, action, read_only=True)


def _forget(args: argparse.Namespace) -> int:
    def action(log) -> int:
        receipt = log.forget(args.subject, actor=args.actor, reason=args.reason)
        print(f"subject erased; erasure recorded as seq {receipt.seq} (decision {receipt.decision_id})")
        return 0

    return _run(args, action)


def _purge(args: argparse.Namespace) -> int:
    def action(log) -> int:
        print(f"purged {log.purge()} expired raw payloads")
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


def _checkpoint(args: argparse.Namespace) -> int:
    def action(log) -> int:
        cp = log.checkpoint()
        print(orjson.dumps(cp.to_dict()).decode() if cp else "log is empty: nothing to sign")
        return 0

    return _run(args, action)


def _public_key(args: argparse.Namespace) -> int:
    return _run(args, lambda log: (sys.stdout.write(log.public_key_pem().decode()), 0)[1])
