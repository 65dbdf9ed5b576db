"""The witness's costs as its history grows: start-up (the checks of its store before it serves) and the
latency of `GET /checkpoints?from=SIZE` (what `prove --witness URL` asks), at 10,000 / 100,000 /
1,000,000 cosigned checkpoints (one a poll: about 14 hours, 6 days and 2 months at the 5 s default).

Usage: python benchmarks/audit/bench_witness.py [--lines 10000 100000 1000000] [--keep DIR]
                                                 [--baseline SRC] [--write-docs]
The stores are signed exactly as a witness signs them (a throwaway log key signs each checkpoint, the
witness's key cosigns it) and kept in --keep (default artifacts/bench-witness) for the next run. Each
measure runs in a process of its own, importing mlobs from this checkout, or with --baseline SRC from
another checkout's src directory (e.g. the code before a change), so the two can be compared.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "bench.mlobs/audit"
WITNESS_NAME = "mlobs.local/witness"
LOG_KEY = "log_key.pub.pem"
REQUESTS = 50  # /checkpoints?from= requests at random sizes, per store
SLOW_REQUESTS = 5  # when one request reads the whole file (the linear scan), fewer
STEP = 7  # records between two cosigned checkpoints: sizes 7, 14, 21, ...


def build(directory: Path, lines: int, source: Path | None = None) -> None:
    """A witness directory holding `lines` cosigned checkpoints of sizes STEP, 2*STEP, ...: from the first
    lines of `source`'s store when it has enough (same keys), else signed here, line by line."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mlobs.audit.checkpoint_note import NoteSigner, TreeHead, cosign
    from mlobs.audit.keys.signing import public_key_pem
    from mlobs.audit.witness.store import COSIGNED, WitnessStore

    directory.mkdir(parents=True, exist_ok=True)
    if source is not None:
        import shutil

        for name in ("witness_key.pem", "witness_key.pub.pem", LOG_KEY):
            shutil.copy2(source / name, directory / name)
        with open(source / COSIGNED, "rb") as src, open(directory / COSIGNED, "wb") as out:
            for _ in range(lines):
                out.write(src.readline())
        return
    store = WitnessStore(directory)
    log_key = Ed25519PrivateKey.generate()
    (directory / LOG_KEY).write_bytes(public_key_pem(log_key.public_key()))
    signer = NoteSigner(ORIGIN, log_key)
    started = int(time.time()) - lines * 5
    with open(directory / COSIGNED, "wb") as out:
        for i in range(1, lines + 1):
            size = i * STEP
            root = size.to_bytes(32, "big")  # any 32 bytes: no check of a kept line recomputes a root
            note = signer.sign(TreeHead(ORIGIN, size, root, f"{size:064x}", "2026-01-01T00:00:00.000000Z"))
            out.write(orjson.dumps({"size": size, "note": cosign(note, WITNESS_NAME, store.private,
                                                                 started + 5 * i)}) + b"\n")


def stores(keep: Path, counts: list[int]) -> dict[int, Path]:
    """Each count's store, built once (the largest signed, the others cut from it) and reused."""
    found = {}
    largest = None
    for count in sorted(counts, reverse=True):
        directory = keep / f"lines-{count}"
        if not (directory / "cosigned.jsonl").exists() or _count(directory) != count:
            t = time.perf_counter()
            build(directory, count, largest)
            print(f"built {directory} ({count:,} lines) in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        largest = largest or directory
        found[count] = directory
    return found


def _count(directory: Path) -> int:
    with open(directory / "cosigned.jsonl", "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))


def measure(directory: Path, lines: int) -> dict:
    """In this process (whichever mlobs it imports): start-up and /checkpoints?from= latency."""
    from types import SimpleNamespace

    from pydantic import SecretStr
    from starlette.testclient import TestClient

    import mlobs
    from mlobs.audit.witness.service import create_app
    from mlobs.audit.witness.settings import WitnessSettings

    settings = WitnessSettings(source_url="http://127.0.0.1:9", token=SecretStr("bench-token-0123456789"),
                               log_public_key=directory / LOG_KEY, dir=directory)
    t = time.perf_counter()
    app = create_app(SimpleNamespace(audit_witness=settings))  # builds the Witness: its start-up checks
    start = time.perf_counter() - t
    client = TestClient(app)  # no lifespan: nothing polls
    rng = random.Random(lines)
    times, sizes = [], []
    for _ in range(REQUESTS if lines <= 10_000 else SLOW_REQUESTS if _linear() else REQUESTS):
        size = rng.randrange(1, lines * STEP + 1)
        t = time.perf_counter()
        answer = client.get("/checkpoints", params={"from": size, "limit": 1})
        times.append(time.perf_counter() - t)
        sizes.append(size)
        notes = answer.json()["notes"]
        assert answer.status_code == 200 and len(notes) == 1 and f"\n{-(-size // STEP) * STEP}\n" in notes[0]
    t = time.perf_counter()  # the newest tree: what a proof of a recent decision asks, the far end of a scan
    newest = client.get("/checkpoints", params={"from": lines * STEP, "limit": 1})
    newest_s = time.perf_counter() - t
    assert f"\n{lines * STEP}\n" in newest.json()["notes"][0]
    bare = None
    if lines <= 100_000 or not _linear():  # the whole history of a million lines would be half a gigabyte
        bare = len(client.get("/checkpoints").content)
    return {"mlobs": mlobs.__file__, "lines": lines, "bytes": (directory / "cosigned.jsonl").stat().st_size,
            "start_s": start, "from_median_s": statistics.median(times), "from_max_s": max(times),
            "requests": len(times), "newest_s": newest_s, "bare_bytes": bare}


def _linear() -> bool:
    """Whether the imported witness reads /checkpoints?from= by scanning the file (the code before bisection)."""
    from mlobs.audit.witness import store

    return not hasattr(store, "first_at_or_after")


def run(directory: Path, lines: int, src: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, __file__, "--measure", str(directory), str(lines)], env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"measuring {directory} with {src} failed:\n{out.stderr}")
    result = orjson.loads(out.stdout.splitlines()[-1])
    if not result["mlobs"].startswith(str(src)):
        raise SystemExit(f"the measuring process imported {result['mlobs']}, not the code in {src}")
    return result


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms" if seconds < 1 else f"{seconds:,.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--keep", type=Path, default=ROOT / "artifacts" / "bench-witness")
    parser.add_argument("--baseline", type=Path, help="another checkout's src directory, measured as well")
    parser.add_argument("--baseline-lines", type=int, nargs="+",
                        help="the counts to measure the baseline at (default: --lines)")
    parser.add_argument("--measure", nargs=2, metavar=("DIR", "LINES"), help=argparse.SUPPRESS)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from docs_page import docs_arguments, publish

    docs_arguments(parser, ROOT / "docs" / "audit-witness.md")
    args = parser.parse_args()
    if args.measure:
        print(orjson.dumps(measure(Path(args.measure[0]), int(args.measure[1]))).decode())
        return
    variants = [("this code", ROOT / "src", args.lines)]
    if args.baseline:
        variants.insert(0, ("baseline", args.baseline.resolve(), args.baseline_lines or args.lines))
    found = stores(args.keep, sorted({count for _, _, counts in variants for count in counts}))
    rows = []
    for name, src, counts in variants:
        for lines in sorted(counts):
            result = run(found[lines], lines, src)
            print(orjson.dumps({"variant": name, **result}).decode(), file=sys.stderr)
            bare = f"{result['bare_bytes']:,} bytes" if result["bare_bytes"] is not None else "not read"
            rows.append(f"| {name} | {lines:,} ({result['bytes'] / 1e6:,.0f} MB) | {_ms(result['start_s'])} | "
                        f"{_ms(result['from_median_s'])} / {_ms(result['from_max_s'])} ({result['requests']}) | "
                        f"{_ms(result['newest_s'])} | "
                        f"{bare} |")
    markdown = "\n".join([
        "| code | cosigned checkpoints (file) | start-up | `/checkpoints?from=&limit=1`, random sizes: median / max "
        "(requests) | the same, newest size | `/checkpoints` answer |", "|---|---:|---:|---:|---:|---:|", *rows]) + (
        f"\n\nOne run per row, each in a process of its own; requests through the app in-process. "
        f"`python benchmarks/audit/bench_witness.py`, {time.strftime('%Y-%m-%d')}. {args.note}")
    publish(markdown, "witness-scale", args.write_docs, ROOT / "docs" / "audit-witness.md")


if __name__ == "__main__":
    main()
