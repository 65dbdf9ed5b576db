"""Credit endpoint with the audit log off and on (SQLite, durable, group commit), in one run.

    python benchmarks/audit_overhead.py [--rounds 24] [--seconds 4] [--restart-every K] [--write-docs]

Every variant's service runs at once, idle but for its own bursts of load (wrk, 32 connections,
from CPU 1 against uvicorn on CPU 0), one burst per variant each cycle, in an order that rotates.
The figure to compare is the server's CPU per request: utime + stime of every thread of the service's process
(the event loop and the audit log's own threads alike) from /proc, from the start of one of its
bursts to the start of its next, divided by the requests of the burst: work that trails a burst
(the subject lookup, merging new subjects' keys) is counted wherever it lands. The audit log
starts no other process, so nothing it costs is left out. The services share a core, so one's
trailing work slows another's burst: throughput beside the CPU figure is the noisier of the two.

Two processes of the same code differ by a few percent, as much as the effect measured. With
--restart-every K every service is restarted every K cycles, so each figure averages over rounds / K
processes, and each ratio's interval is taken over the blocks of K cycles (one ratio per block, from
one process of each service), which carries the spread between processes. The default, 0, keeps one
process per service for the whole run, as a service runs in production: young processes cost less
with a new applicant in every request, so restarting measures something cheaper than a long-running
service.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from harness import paced_latencies, pct, publish, ratio_interval, start_service, trained, under_load, wrk_script

from mlobs_services.credit import data

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
PAUSE_S = 1.5
NEW = "audit on, every request a new applicant"


def thread_cpu(pid: int) -> Counter:
    """CPU seconds (utime + stime) of each thread of a process, summed by the thread's kernel
    name: the audit log names its threads ("audit-committer"), the rest share the process's."""
    out: Counter = Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # a thread that ended meanwhile
            continue
        out[name if name.startswith("audit-") else "event loop and the rest"] += (int(fields[11]) + int(fields[12]))
    return Counter({name: ticks * TICK_S for name, ticks in out.items()})


def total_cpu(pid: int) -> float:
    """The whole process, ended threads included (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


class Meter:
    """A service's CPU since its last burst began, charged to that burst's requests."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.requests = 0.0
        self._total, self._threads = total_cpu(pid), thread_cpu(pid)

    def charge(self) -> tuple[float, dict[str, float]] | None:
        """(CPU µs a request, per thread) of the last burst, with whatever ran after it; then start anew."""
        total, now = total_cpu(self.pid), thread_cpu(self.pid)
        spent, requests, threads = total - self._total, self.requests, now.copy()
        threads.subtract(self._threads)
        self._total, self._threads, self.requests = total, now, 0.0
        if not requests:
            return None
        return spent / requests * 1e6, {name: s / requests * 1e6 for name, s in threads.items()}


def blocks_of(rounds: int, restart_every: int) -> list[int]:
    """The block (one process of each service) of each cycle: a cycle its own block when nothing restarts."""
    return [cycle // restart_every if restart_every else cycle for cycle in range(rounds)]


def by_block(values: list[float], blocks: list[int]) -> list[float]:
    """The sum of a block's values, per block in order."""
    sums: dict[int, float] = {}
    for block, value in zip(blocks, values):
        sums[block] = sums.get(block, 0.0) + value
    return list(sums.values())


def run(rounds: int, seconds: int, restart_every: int = 0) -> tuple[dict[str, dict], dict[str, dict]]:
    workdir, artifacts = trained("credit")
    bodies = [{k: r[k] for k in ("applicant_id", "personal", "features")} for r in data.generate(500, seed=123)]

    def audit_on(name: str) -> dict:
        # A store per variant: the services run side by side, and neither does the other's indexing.
        return {"MLOBS_AUDIT__STORE_URL": f"sqlite:///{workdir / name / 'audit.db'}",
                "MLOBS_AUDIT__KEYS_DIR": str(workdir / name / "keys")}

    variants = {
        "audit off": {"MLOBS_AUDIT__ENABLED": "false"},
        "audit on (SQLite WAL, synchronous=FULL)": audit_on("recurring"),
        NEW: audit_on("new"),
    }
    fresh = {NEW: "applicant_id"}
    base = {"MLOBS_ARTIFACTS_DIR": artifacts, "MLOBS_ACCESS_LOG": "true"}
    results = {v: {"rps": [], "cpu_us": [], "lat": [], "load_p50": [], "load_p99": []} for v in variants}
    threads: dict[str, Counter] = {v: Counter() for v in variants}
    services: dict[str, tuple[subprocess.Popen, str, Path]] = {}
    meters: dict[str, Meter] = {}
    scripts = {variant: wrk_script(bodies, workdir / f"bodies-{i}.lua", fresh.get(variant))
               for i, variant in enumerate(variants)}

    def start() -> None:
        """A new process of every service (each keeps its store and keys), warmed up, its meter from here."""
        for i, (variant, env) in enumerate(variants.items()):
            process, url = start_service("credit", {**base, **env}, workdir / f"service-{i}.log")
            services[variant] = process, url, scripts[variant]
        for _, url, script in services.values():
            under_load(url, 2, script)  # warm-up: the recurring applicants' keys exist from here on
            time.sleep(PAUSE_S)
        meters.update({variant: Meter(process.pid) for variant, (process, _, _) in services.items()})

    def stop() -> None:
        for process, _, _ in services.values():
            process.terminate()
            process.wait()
        services.clear()

    try:
        start()

        def charge(variant: str) -> None:
            charged = meters[variant].charge()
            if charged is not None:
                results[variant]["cpu_us"].append(charged[0])
                threads[variant].update(charged[1])

        names = list(services)
        for cycle in range(rounds):
            if restart_every and cycle and cycle % restart_every == 0:
                time.sleep(seconds + PAUSE_S)  # the last burst's trailing work, about as long as any burst gets
                for variant in names:
                    charge(variant)
                stop()
                start()
            # The order rotates: each service's burst follows each other's as often, and with it
            # the other's trailing work on the shared core.
            for variant in names[cycle % len(names):] + names[:cycle % len(names)]:
                _, url, script = services[variant]
                charge(variant)  # the previous burst, and everything the service did since
                load = under_load(url, seconds, script)
                meters[variant].requests = load["rps"] * seconds
                r = results[variant]
                for key, name in (("rps", "rps"), ("load_p50", "p50"), ("load_p99", "p99")):
                    r[key].append(load[name])
                time.sleep(PAUSE_S)
            if cycle:
                print(f"cycle {cycle}: " + ", ".join(f"{v} {r['rps'][-2]:.0f} req/s {r['cpu_us'][-1]:.0f} µs"
                                                     for v, r in results.items()), file=sys.stderr)
        time.sleep(PAUSE_S)
        for variant in services:
            charge(variant)
        for _ in range(3):
            for variant, (_, url, _) in services.items():
                results[variant]["lat"].extend(paced_latencies(url, bodies, 10, new_field=fresh.get(variant)))
                time.sleep(PAUSE_S)
    finally:
        stop()
    means = {v: {name: us / rounds for name, us in t.items()} for v, t in threads.items()}
    return results, means


def table(results: dict[str, dict], threads: dict[str, dict], rounds: int, seconds: int, note: str,
          restart_every: int = 0) -> str:
    off = next(iter(results.values()))
    blocks = blocks_of(rounds, restart_every)
    rows = ["| credit endpoint | server CPU per request (mean) | off / on, CPU (90% interval) | throughput (req/s) "
            "| on / off, throughput (90% interval) | p50 / p99 at 200 req/s | p50 / p99 under full load |",
            "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        cpu, cpu_low, cpu_high = ratio_interval(by_block(off["cpu_us"], blocks), by_block(r["cpu_us"], blocks))
        rps, rps_low, rps_high = ratio_interval(by_block(r["rps"], blocks), by_block(off["rps"], blocks))
        same = r is off
        rows.append(
            f"| {name} | {statistics.mean(r['cpu_us']):,.0f} µs "
            f"| {'1' if same else f'{cpu:.3f} ({cpu_low:.3f} to {cpu_high:.3f})'} "
            f"| {statistics.mean(r['rps']):,.0f} | {'1' if same else f'{rps:.3f} ({rps_low:.3f} to {rps_high:.3f})'} "
            f"| {pct(r['lat'], 0.5) * 1e3:.2f} / {pct(r['lat'], 0.99) * 1e3:.2f} ms "
            f"| {statistics.median(r['load_p50']) * 1e3:.0f} / {statistics.median(r['load_p99']) * 1e3:.0f} ms |")
    rows += ["", "| credit endpoint | " + " | ".join(_thread_names(threads)) + " |",
             "|---|" + "---|" * len(_thread_names(threads))]
    for name, per in threads.items():
        rows.append(f"| {name} | " + " | ".join(f"{per.get(t, 0):.0f} µs" for t in _thread_names(threads)) + " |")
    return "\n".join(rows) + (
        f"\n\nCPU per request of the service's process, all its threads (the second table splits it by "
        f"thread, means over the bursts); the ratios are off over on for CPU and on over off for throughput, "
        f"so 0.90 is the goal for both, each with a bootstrap interval over {_over(rounds, restart_every)}. "
        f"The three services run side by side, uvicorn pinned to CPU 0, wrk (32 connections) on CPU 1; {rounds} "
        f"cycles of one {seconds} s burst per service, in an order that rotates, {PAUSE_S} s apart. "
        f"500 distinct applicants "
        f"sent again and again (their subject keys exist after the warm-up), or, in the last row, an "
        f"applicant id never sent before in every request (a new pseudonym and key each time); each audit-on "
        f"service has its own log and key store. At 200 req/s one request at a time (a lone caller: its "
        f"record never waits for others), three rounds of 10 s; under full load, wrk's median and p99 "
        f"(medians of the bursts), where a record shares its commit with every record that arrived while "
        f"the previous commit ran. "
        f"`python benchmarks/audit_overhead.py --rounds {rounds} --seconds {seconds} --restart-every {restart_every}`, "
        f"{time.strftime('%Y-%m-%d')}{note}."
    )


def _over(rounds: int, restart_every: int) -> str:
    """What the interval is taken over, as the caption says it."""
    if not restart_every:
        return "the cycles (one process of each service for the whole run)"
    return (f"the {len(set(blocks_of(rounds, restart_every)))} blocks of {restart_every} cycles (every service "
            f"restarted at each block: a ratio per block, from one process of each)")


def _thread_names(threads: dict[str, dict]) -> list[str]:
    """The threads that cost anything (half a µs a request or more), the service's own first."""
    names = {n for per in threads.values() for n, us in per.items() if us >= 0.5}
    return sorted(names, key=lambda n: (n.startswith("audit-"), n))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--restart-every", type=int, default=0, metavar="K",
                        help="restart every service every K cycles (0: one process each for the whole run)")
    parser.add_argument("--note", default="", help="appended to the caption, e.g. ', under load'")
    parser.add_argument("--write-docs", action="store_true", help="rewrite the table in docs/benchmarks.md")
    args = parser.parse_args()
    if args.restart_every < 0 or args.rounds < 1 or args.seconds < 1:
        parser.error("--rounds and --seconds must be at least 1, --restart-every 0 or more")
    results, threads = run(args.rounds, args.seconds, args.restart_every)
    publish(table(results, threads, args.rounds, args.seconds, args.note, args.restart_every), "audit-endpoint",
            args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
