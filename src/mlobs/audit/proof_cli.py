"""`mlobs audit verify | prove | check-proof`: commands that trust only the key the verifier brings."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import orjson

WITNESS_TIMEOUT_S = 10.0  # a witness's whole answer (a checkpoint, a page of them) within this


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a number of seconds over 0, not {text}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    verify = sub.add_parser("verify", help="check a log read-only with a key you trust (chain, tree heads, witness)")
    verify.add_argument("path", nargs="?", help="the log: a SQLite file, a directory holding audit.db, or a "
                                                "postgresql:// URL (default: MLOBS_AUDIT__STORE_URL)")
    verify.add_argument("--public-key", type=Path, help="the log's checkpoint public key (PEM), obtained apart "
                                                        "from the log (or pin MLOBS_AUDIT__PUBLIC_KEY_FINGERPRINT)")
    verify.add_argument("--witness", help="a witness's directory or URL: its cosigned checkpoints")
    verify.add_argument("--witness-key", type=Path, help="the witness's public key (PEM): its cosignatures must verify")
    verify.add_argument("--witness-timeout", type=_seconds, default=WITNESS_TIMEOUT_S, metavar="SECONDS",
                        help="the longest a witness's whole answer may take (default %(default)g)")
    verify.add_argument("--allow-empty", action="store_true", help="an empty log is not a failure")
    verify.add_argument("--allow-unsigned-tail", action="store_true",
                        help="records after the last signed checkpoint are not a failure (a live log)")
    verify.add_argument("--workers", type=worker_count, metavar="N",
                        help="processes, 1 to four per core (default: one per core from 200,000 records)")
    verify.add_argument("--checkpoints", type=Path, action="append", default=[],
                        help="a chain checkpoint file kept elsewhere (JSON lines); repeatable")
    verify.add_argument("--origin", help="the log's name (MLOBS_AUDIT__ORIGIN where it runs): every signed tree "
                                         "head, the log's and the witness's, must name exactly this log")
    verify.add_argument("--bundle", type=Path, help="verify an exported bundle instead of a live store")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=_verify)

    prove = sub.add_parser("prove", help="write a self-contained inclusion proof of one decision")
    prove.add_argument("decision_id")
    prove.add_argument("--out", type=Path, required=True)
    prove.add_argument("--path", help="the log (as for verify; default: MLOBS_AUDIT__STORE_URL)")
    prove.add_argument("--witness", help="a witness's directory or URL: prefer its cosigned checkpoints")
    prove.add_argument("--witness-timeout", type=_seconds, default=WITNESS_TIMEOUT_S, metavar="SECONDS",
                       help="the longest a witness's whole answer may take (default %(default)g)")
    prove.add_argument("--public-key", type=Path, help="the log's public key, to open the witness's checkpoints")
    prove.add_argument("--hash-only", action="store_true", help="the record's leaf hash instead of the record")
    prove.add_argument("--json", action="store_true",
                       help="write the readable JSON form instead of the compact binary one (check-proof takes both)")
    prove.set_defaults(func=_prove)

    rotate = sub.add_parser("rotate-key",
                            help="replace the checkpoint key: a record signed by the old key names the new one")
    rotate.add_argument("--actor", default=os.environ.get("USER", "unknown"))
    rotate.set_defaults(func=_rotate_key)

    check = sub.add_parser("check-proof", help="verify an inclusion proof offline")
    check.add_argument("file", type=Path)
    check.add_argument("--public-key", type=Path, required=True)
    check.add_argument("--witness-key", type=Path, action="append", default=[],
                       help="a witness's public key whose cosignature the checkpoint must carry; repeatable")
    check.add_argument("--origin", help="the log's name (MLOBS_AUDIT__ORIGIN where it runs): the proof's checkpoint "
                                        "must name exactly this log")
    check.set_defaults(func=_check_proof)


def worker_count(text: str) -> int:
    """An argparse type: a number of verifier processes one check may start (parallel_verify.max_workers)."""
    from mlobs.audit.verification.parallel_verify import checked_workers

    try:
        return checked_workers(int(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc) if text.strip().lstrip("+-").isdigit() else
                                         f"{text!r} is not a whole number") from None


def _settings():
    from mlobs.audit.log import resolve_settings

    return resolve_settings()


def _open(read_only: bool = False):
    """The existing log: a command never creates one (a mistyped path would get a new log, new keys and a
    reassuring answer about a log that is not the real one)."""
    from mlobs.audit.log import AuditLog, resolve_settings
    from mlobs.audit.verification.trust_verify import open_view

    audit = resolve_settings()
    # LogMissing if there is no audit log there (or its server does not answer); creates nothing.
    open_view(audit.store_url, audit.store_timeout_s).close()
    return AuditLog.open(audit, read_only=read_only)


def run_on_log(args: argparse.Namespace, action, read_only: bool = False) -> int:
    """`action(log)` on the existing log; exit 2 with the reason if there is none or it fails."""
    from mlobs.audit.errors import AuditError
    from mlobs.audit.verification.trust_verify import LogMissing

    try:
        log = _open(read_only)
    except (AuditError, LogMissing, OSError, ValueError) as exc:
        print(f"audit: cannot open the audit log: {exc}", file=sys.stderr)
        return 2
    try:
        return action(log)
    except BrokenPipeError:
        raise  # a reader that stopped early: the command line ends quietly with the SIGPIPE status
    except (AuditError, ValueError, OSError) as exc:  # a bound that does not parse, an output not writable
        print(f"audit: {exc}", file=sys.stderr)
        return 2
    finally:
        log.close()


def _verify(args: argparse.Namespace) -> int:
    from mlobs.audit.keys.signing import load_public_key, read_checkpoint_file
    from mlobs.audit.verification.trust_verify import (
        LogMissing,
        resolve_url,
        trusted_key,
        verify_log,
    )

    if args.bundle is not None:
        from mlobs.audit.checkpoint_note import fingerprint

        if args.origin is not None:
            print("audit verify: --origin cannot be checked on an export: its chain checkpoints name no log",
                  file=sys.stderr)
            return 2
        from mlobs.audit.export import verify_bundle

        # An export carries its own key: it counts only if it is the key the verifier trusts.
        try:
            public = trusted_key(args.public_key, _settings().public_key_fingerprint, None)
            carried = load_public_key(args.bundle / "public_key.pem")
        except (ValueError, OSError) as exc:
            print(f"audit verify: FAILED: {exc}", file=sys.stderr)
            return 1
        if fingerprint(carried) != fingerprint(public):
            print("audit verify: FAILED: the export's public key is not the trusted key (re-signed export?)",
                  file=sys.stderr)
            return 1
        try:
            extra = [cp for path in args.checkpoints for cp in read_checkpoint_file(path)]
            report = verify_bundle(args.bundle, extra)
        except (ValueError, OSError) as exc:
            print(f"audit verify: FAILED: {exc}", file=sys.stderr)
            return 1
        return _report(report, args.json)
    try:
        audit = _settings()
        public = trusted_key(args.public_key, audit.public_key_fingerprint,
                             None if args.path else audit.keys_dir)
        witness = None
        if args.witness:
            witness = load_witness(args.witness, load_public_key(args.witness_key) if args.witness_key else None,
                                   timeout_s=args.witness_timeout)
        kept = [cp for path in args.checkpoints for cp in read_checkpoint_file(path)]
        report = verify_log(resolve_url(args.path, audit.store_url), public, witness=witness,
                            allow_empty=args.allow_empty, allow_unsigned_tail=args.allow_unsigned_tail,
                            workers=args.workers, raw_retention_days=audit.raw_retention_days,
                            extra_checkpoints=kept, origin=args.origin, store_timeout_s=audit.store_timeout_s)
    except (LogMissing, ValueError, OSError) as exc:
        print(f"audit verify: FAILED: {exc}", file=sys.stderr)
        return 1
    return _report(report, args.json)


def _report(report, as_json: bool) -> int:
    print(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() if as_json else report.text())
    return 0 if report.ok else 1


def load_witness(source: str, witness_key=None, covering: int | None = None,
                 timeout_s: float = WITNESS_TIMEOUT_S):
    """The witness's newest cosigned checkpoint, from its directory or its HTTP endpoint; with
    `covering`, instead the first one whose tree holds record `covering` (what a proof needs).

    The newest is all verify needs: it shows a rollback, a truncation or deleted checkpoints, and
    the witness cosigned it only after checking it consistent with every one before, so records
    that give its root give theirs too, and a second root at any smaller size is a rewrite the
    newest root then shows. Its history grows by one checkpoint a poll; no read of it does.
    A witness's URL answers each request within `timeout_s` in all, or the load fails."""
    from mlobs.audit.verification.trust_verify import Witnessed

    if source.startswith(("http://", "https://")):
        body = _witness_get(source, "/checkpoint", None, timeout_s) if covering is None else None
        if body is not None:
            notes = [body.decode("utf-8", "replace")]
        else:  # a proof's checkpoint; or nothing cosigned yet, which a witness's list then confirms
            notes = _witness_page(source, covering or 0, timeout_s)
            if covering is None and notes:
                raise ValueError(f"{source} has no newest checkpoint but lists one: not a witness's answers")
    else:
        from mlobs.audit.witness.store import COSIGNED, read_head, read_notes_from

        if not (Path(source) / COSIGNED).exists():
            raise ValueError(f"{source} is not a witness directory (no {COSIGNED})")
        if covering is None:  # every line scanned as the witness does at start (an edited one is named)
            head = read_head(Path(source))
            notes = [head.note] if head else []
        else:  # the one line the proof needs, found by bisection; its signatures are the proof's to check
            notes = read_notes_from(Path(source), covering, 1)
    return Witnessed(notes, source, witness_key)


def _witness_page(source: str, start: int, timeout_s: float) -> list[str]:
    """The witness's first cosigned checkpoint of a tree of `start` records or more, in a list (empty if none)."""
    body = _witness_get(source, "/checkpoints", {"from": start, "limit": 1}, timeout_s)
    try:
        notes = orjson.loads(body)["notes"] if body is not None else None
    except (orjson.JSONDecodeError, KeyError, TypeError):
        notes = None
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ValueError(f"{source} did not answer with a witness's checkpoints (is it the witness's URL?)")
    return notes


def _witness_get(source: str, path: str, params: dict | None, timeout_s: float) -> bytes | None:
    """The body of a witness's answer (None for 404), read up to the size of one checkpoint: the
    witness is another host, and what verify needs from it is a few kilobytes. Head and body within
    `timeout_s` in all: a witness that hangs, or answers a byte at a time, fails the read."""
    import httpx

    from mlobs import http_deadline

    from mlobs.audit.witness.store import MAX_LINE

    url = source.rstrip("/") + path
    try:
        with http_deadline.within(timeout_s), http_deadline.client(timeout=timeout_s) as client, \
                client.stream("GET", url, params=params) as response:
            if response.status_code == 404:
                return None
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_LINE:
                    raise ValueError(f"the witness's answer at {url} is over {MAX_LINE} bytes: not a checkpoint")
            if response.is_error:  # its reason, e.g. the line of its history that does not check
                raise ValueError(f"the witness at {url} answered {response.status_code}: {_detail(bytes(body))}")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise ValueError(f"cannot read the witness at {url}: {exc}") from None


def _signed_by(notes: list[str], public, key_path: Path, seq: int) -> None:
    """The witness's checkpoint for a proof opens with the key given, or a message saying which it is."""
    from mlobs.audit.checkpoint_note import NoteError, open_checkpoint

    for note in notes:
        try:
            open_checkpoint(note, public)
        except NoteError as exc:
            raise ValueError(f"the witness's first checkpoint holding record {seq} is not signed by {key_path} "
                             f"({exc}): the log's key was rotated since, or before; prove it with the key that "
                             "signed it, or without --witness") from None


def _detail(body: bytes) -> str:
    try:
        detail = orjson.loads(body)["detail"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        detail = None
    return detail if isinstance(detail, str) else body[:200].decode("utf-8", "replace") or "(no body)"


def _prove(args: argparse.Namespace) -> int:
    from mlobs.audit.verification.proofs import ProofMissing, find_record, make_bundle
    from mlobs.audit.keys.signing import load_public_key
    from mlobs.audit.verification.trust_verify import LogMissing, open_view, resolve_url

    try:
        audit = _settings()
        url = resolve_url(args.path, audit.store_url)
        if args.witness and args.public_key is None:
            raise ValueError("--witness needs --public-key to open the witness's checkpoints")
        view = open_view(url, audit.store_timeout_s)
        notes, public = None, None
        try:
            if args.witness:
                public = load_public_key(args.public_key)
                seq = find_record(view.reader, args.decision_id, url.startswith("sqlite:///"))[0]
                notes = load_witness(args.witness, covering=seq, timeout_s=args.witness_timeout).notes
                _signed_by(notes, public, args.public_key, seq)
            bundle = make_bundle(view.reader, args.decision_id, sqlite=url.startswith("sqlite:///"), notes=notes,
                                 public=public, record=not args.hash_only)
        finally:
            view.close()
    except (LogMissing, ProofMissing, ValueError, OSError) as exc:
        print(f"audit prove: {exc}", file=sys.stderr)
        return 1
    from mlobs.audit.verification.proof_compact import encode

    try:
        data = orjson.dumps(bundle, option=orjson.OPT_INDENT_2) + b"\n" if args.json else encode(bundle)
    except ValueError as exc:
        print(f"audit prove: {exc} (write it with --json)", file=sys.stderr)
        return 1
    try:
        args.out.write_bytes(data)
    except OSError as exc:
        print(f"audit prove: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({len(data)} bytes): decision {args.decision_id}, record {bundle['leaf_index'] + 1} "
          f"of {bundle['tree_size']}, {len(bundle['inclusion'])} proof hashes")
    return 0


def _check_proof(args: argparse.Namespace) -> int:
    from mlobs.audit.checkpoint_note import NoteError
    from mlobs.audit.merkle import ProofError
    from mlobs.audit.verification.proofs import MAX_BUNDLE_BYTES, check_bundle
    from mlobs.audit.keys.signing import load_public_key

    try:
        public = load_public_key(args.public_key)
        with open(args.file, "rb") as handle:
            data = handle.read(MAX_BUNDLE_BYTES + 1)
        if len(data) > MAX_BUNDLE_BYTES:
            raise ValueError(f"{args.file} is over {MAX_BUNDLE_BYTES} bytes: no inclusion proof is that large")
        results = [check_bundle(data, public, load_public_key(w), args.origin) for w in args.witness_key] or \
            [check_bundle(data, public, origin=args.origin)]
    except (NoteError, ProofError, ValueError, KeyError, OSError, orjson.JSONDecodeError) as exc:
        print(f"check-proof: FAILED: {exc}", file=sys.stderr)
        return 1
    for result in results:
        print(result.text())
    return 0


def _rotate_key(args: argparse.Namespace) -> int:
    from mlobs.audit.checkpoint_note import fingerprint
    from mlobs.audit.keys.key_rotation import rotate

    def action(log) -> int:
        public = rotate(log, args.actor)
        print(f"checkpoint key rotated; new key fingerprint {fingerprint(public)} "
              f"(publish {log.settings.keys_dir}/checkpoint_signing.pub.pem)")
        return 0

    return run_on_log(args, action)
