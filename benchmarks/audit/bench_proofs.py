"""The Merkle tree's costs on a SQLite audit log: appends with the tree, the cost of a signed
checkpoint, prove and check-proof, proof sizes, and a full verification with the tree heads.

Usage: python benchmarks/audit/bench_proofs.py [--records N] [--keep DIR] [--write-docs]
Builds the log through the real writer at 1,000 records per commit, then prints a markdown table;
--write-docs also writes it into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from mlobs.audit import AuditLog, AuditSettings, Decision
from mlobs.audit.verification import proof_compact as compact
from mlobs.audit.merkle import inclusion_proof
from mlobs.audit.verification.proofs import check_bundle, make_bundle
from mlobs.audit.verification.trust_verify import verify_log
from mlobs.audit.storage.tree_store import open_reader

STEP = 50_000


def decision(i: int) -> Decision:
    return Decision("credit", "gbm", "3", {"score": 0.5}, decision_id=f"{i:032x}", subject=f"applicant-{i % 100_000}",
                    outcome="deny", reason_codes=["debt_ratio"], inputs={"income_band": "B"},
                    personal={"name": f"P{i}"}, trace_id=f"{i:032x}", latency_ms=1.2)


def build(log: AuditLog, have: int, n: int) -> float:
    start = time.perf_counter()
    for lo in range(have, n, STEP):
        for pending in [log.submit(decision(i)) for i in range(lo, min(n, lo + STEP))]:
            pending.result(300)
    return (n - have) / (time.perf_counter() - start)


def tree_costs(log: AuditLog, records: int) -> list[tuple[str, str]]:
    stats = log.stats()
    heads = max(1, stats["tree_heads"])
    return [
        ("committer time on the tree per record (leaf and node hashes)",
         f"{stats['tree_seconds'] / max(1, records) * 1e6:.2f} µs"),
        ("committer time per signed tree head (consistency proof, verify, sign)",
         f"{stats['tree_head_seconds'] / heads * 1e3:.2f} ms ({stats['tree_heads']} heads)"),
    ]


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for the docs helpers
    from docs_page import docs_arguments, publish

    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="reuse or keep the log in this directory")
    parser.add_argument("--no-tree", action="store_true", help="appends without the tree, for comparison")
    docs_arguments(parser)
    args = parser.parse_args()
    if args.no_tree:
        import mlobs.audit.log

        mlobs.audit.log.open_tree = lambda *a: None
        mlobs.audit.log.Checkpointer = lambda *a: None
    base = args.keep or Path(tempfile.mkdtemp(prefix="mlobs-audit-proofs-"))
    url = f"sqlite:///{base / 'audit.db'}"
    settings = AuditSettings(store_url=url, max_batch=1_000, queue_size=STEP + 10, checkpoint_every=100_000)
    rows = []
    try:
        log = AuditLog.open(settings, base_dir=base)
        try:
            have = log.store.head()[0]
            if have < args.records:
                rate = build(log, have, args.records)
                rows.append(("durable appends with the Merkle tree, 1,000 per commit", f"{rate:,.0f} records/s"))
                if not args.no_tree:
                    rows += tree_costs(log, args.records - have)
            if args.no_tree:
                print(f"| durable appends without the tree, 1,000 per commit | {rows[0][1]} |")
                return
            public = log.signer.public
            size = log.store.head()[0]
        finally:
            log.close()

        reader, close = open_reader(url)
        rng = random.Random(1)
        ids = [f"{rng.randrange(args.records):032x}" for _ in range(300)]
        try:
            times, bundles = [], []
            for decision_id in ids:
                t = time.perf_counter()
                bundles.append(make_bundle(reader, decision_id, sqlite=True))
                times.append(time.perf_counter() - t)
            slim = make_bundle(reader, ids[0], sqlite=True, record=False)
            # Against the whole tree, as a proof against the latest checkpoint would be.
            full, full_times = [], []
            for decision_id in ids[:100]:
                t = time.perf_counter()
                full.append(inclusion_proof(reader.subtree, int(decision_id, 16), size))
                full_times.append(time.perf_counter() - t)
        finally:
            close()
        rows.append((f"inclusion path in the tree of all {size:,} records (median time)",
                     f"{len(full[0])} hashes, {32 * len(full[0])} bytes, {statistics.median(full_times) * 1e3:.2f} ms"))
        rows.append(("prove: bundle for one decision (median / p99)",
                     f"{statistics.median(times) * 1e3:.2f} / {sorted(times)[int(len(times) * 0.99)] * 1e3:.2f} ms"))
        hashes = len(bundles[0]["inclusion"])
        rows.append(("inclusion path to the first checkpoint covering the record",
                     f"{hashes} hashes, {32 * hashes} bytes"))
        rows.append(("bundle with the leaf hash only (compact / JSON)",
                     f"{len(compact.encode(slim)):,} / {len(orjson.dumps(slim)):,} bytes"))
        rows.append(("bundle with the record (compact / JSON)",
                     f"{len(compact.encode(bundles[0])):,} / {len(orjson.dumps(bundles[0])):,} bytes"))
        for form, encode in (("compact", compact.encode), ("JSON", orjson.dumps)):
            encoded = [encode(b) for b in bundles]
            cpu = time.process_time()
            for data in encoded:
                check_bundle(data, public)
            rows.append((f"check-proof: CPU per {form} bundle (signature, record hash, inclusion)",
                         f"{(time.process_time() - cpu) / len(encoded) * 1e3:.3f} ms"))

        workers = os.cpu_count() or 1
        report = verify_log(url, public, workers=workers)
        assert report.ok, report.text()
        rows.append((f"verify: chain, checkpoints and tree heads, {workers} processes", f"{report.seconds:.2f} s"))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    markdown = "\n".join([f"| measure ({size:,} records, SQLite) | value |", "|---|---:|",
                           *(f"| {name} | {value} |" for name, value in rows)]) + (
        f"\n\nOne run; prove and check-proof over 300 random decisions. `python benchmarks/audit/bench_proofs.py "
        f"--records {args.records}`, {time.strftime('%Y-%m-%d')}. {args.note}")
    publish(markdown, "audit-proofs", args.write_docs)


if __name__ == "__main__":
    main()
