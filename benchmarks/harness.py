"""A service under load, measured the same way for every variant: uvicorn pinned to CPU 0,
load pinned to CPU 1; throughput with wrk (closed loop), latency with a paced client."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from docs_page import docs_arguments, publish  # noqa: F401 (publish: the scripts take it from here)

from mlobs.local.ports import free_port, wait_for_http


def start_service(name: str, env: dict, log: Path, pin: bool = True,
                  wait_s: float = 60) -> tuple[subprocess.Popen, str]:
    """`mlobs serve NAME` with `env`, on CPU 0 when pinned (the load runs on CPU 1); once it answers."""
    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [*(["taskset", "-c", "0"] if pin else []), sys.executable, "-m", "mlobs.cli", "serve", name,
             "--port", str(port)],
            env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/healthz", wait_s)
    except BaseException:  # a service that never answered is not left running
        process.kill()
        process.wait()
        raise
    return process, url


@contextlib.contextmanager
def serving(name: str, env: dict, pin: bool = True, wait_s: float = 60):
    """The reference service `name`, trained into a fresh directory and started with `env` on top of
    no audit log and no access log; its URL while the block runs, then stopped."""
    workdir, artifacts = trained(name)
    base = {"MLOBS_ARTIFACTS_DIR": artifacts, "MLOBS_AUDIT__ENABLED": "false", "MLOBS_ACCESS_LOG": "false"}
    process, url = start_service(name, {**base, **env}, workdir / "service.log", pin, wait_s)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


def paced_client(url: str, seconds: float, rate: float, key: str, body,
                 address: str = "127.0.0.1") -> tuple[list[float], int, int]:
    """One client with API key `key`, connecting from `address`, sending `body(i)` one request at a
    time at `rate` per second: (latencies of the 200s, answers that were not 200, requests sent)."""
    latencies, failed, interval, sent = [], 0, 1.0 / rate, 0
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {key}"}, timeout=10,
                      transport=transport) as client:
        next_at = time.perf_counter()
        end = next_at + seconds
        while next_at < end:
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t0 = time.perf_counter()
            answer = client.post("/predict", json=body(sent))
            sent += 1
            if answer.status_code == 200:
                latencies.append(time.perf_counter() - t0)
            else:
                failed += 1
            next_at += interval
    return latencies, failed, sent


_NEW_ID = "NEW_SUBJECT_ID"  # no Lua pattern characters: gsub matches it as it is


def wrk_script(bodies: list[dict], path: Path, new_field: str | None = None) -> Path:
    """A wrk Lua script that POSTs the bodies in turn; with `new_field`, that field of every
    request is an id never sent before (a new subject each time)."""
    fresh, body = "", "bodies[i]"
    if new_field is not None:  # a counter and a tag no other run of wrk shares
        bodies = [{**b, new_field: _NEW_ID} for b in bodies]
        fresh = ("math.randomseed(os.time())\nlocal tag = string.format(\"wrk%d-%d\", os.time(), math.random(1e9))\n"
                 "local n = 0\n")
        body = f'(bodies[i]:gsub("{_NEW_ID}", function() n = n + 1; return tag .. "-" .. n end))'
    items = ",\n".join("[[" + json.dumps(b) + "]]" for b in bodies)
    path.write_text(
        f"local bodies = {{\n{items}\n}}\nlocal i = 0\n{fresh}"
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"request = function()\n  i = i % #bodies + 1\n  return wrk.format(nil, nil, nil, {body})\nend\n"
    )
    return path


def under_load(url: str, seconds: int, script: Path, connections: int = 32) -> dict[str, float]:
    """Closed-loop load from wrk: requests per second, and wrk's latency median and p99 (seconds)."""
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"{url}/predict"],
        capture_output=True, text=True, check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"errors under load:\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _wrk_seconds(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99": _wrk_seconds(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
    }


def _wrk_seconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def paced_latencies(url: str, bodies: list[dict], seconds: int, rate: float = 200.0,
                    new_field: str | None = None) -> list[float]:
    """One request at a time on a fixed schedule: latency without queueing, at a moderate rate."""
    os.sched_setaffinity(0, {1})
    latencies, interval = [], 1.0 / rate
    tag = f"paced{time.time_ns()}"

    def body(i: int) -> dict:
        b = bodies[i % len(bodies)]
        return {**b, new_field: f"{tag}-{i}"} if new_field else b

    with httpx.Client(base_url=url) as client:
        for i in range(50):
            client.post("/predict", json=body(-1 - i))
        next_at = time.perf_counter()
        end, i = next_at + seconds, 0
        while next_at < end:
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t0 = time.perf_counter()
            client.post("/predict", json=body(i)).raise_for_status()
            latencies.append(time.perf_counter() - t0)
            next_at += interval
            i += 1
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _empty_results(variants: dict[str, dict]) -> dict[str, dict]:
    return {v: {"rps": [], "lat": [], "load_p50": [], "load_p99": []} for v in variants}


def _keep_load(result: dict, load: dict[str, float]) -> None:
    result["rps"].append(load["rps"])
    result["load_p50"].append(load["p50"])
    result["load_p99"].append(load["p99"])


def compare(name: str, variants: dict[str, dict], bodies: list[dict], workdir: Path, rounds: int,
            seconds: int, base_env: dict, new_field: dict[str, str] | None = None) -> dict[str, dict]:
    """Alternate the variants round by round so drift in the machine hits all of them.
    `new_field` names, per variant, a field of the bodies to send a never-seen id in."""
    new_field = new_field or {}
    scripts = {v: wrk_script(bodies, workdir / f"bodies-{i}.lua", new_field.get(v)) for i, v in enumerate(variants)}
    results = _empty_results(variants)
    for round_ in range(rounds):
        for variant, env in variants.items():
            process, url = start_service(name, {**base_env, **env}, workdir / "service.log")
            script = scripts[variant]
            try:
                under_load(url, 2, script)  # warm-up
                _keep_load(results[variant], under_load(url, seconds, script))
                results[variant]["lat"].extend(paced_latencies(url, bodies, seconds, new_field=new_field.get(variant)))
            finally:
                process.terminate()
                process.wait()
            print(f"round {round_ + 1} {variant}: {results[variant]['rps'][-1]:.0f} req/s", file=sys.stderr)
    return results


def interleave(name: str, variants: dict[str, dict], bodies: list[dict], workdir: Path, cycles: int,
               seconds: int, base_env: dict, new_field: dict[str, str] | None = None, pause_s: float = 1.5,
               paced_rounds: int = 3, paced_s: int = 10) -> dict[str, dict]:
    """Every variant's service runs at once, idle but for its own bursts of load: `cycles` times,
    each variant in turn gets `seconds` of wrk, then a pause so its background work (the audit
    lookup trails commits by up to a second) ends before the next burst. A shared machine's speed
    swings by a quarter from one few-second stretch to the next; bursts seconds apart, many of
    them, see the same machine. Then `paced_rounds` alternating rounds of `paced_s` of paced latency."""
    new_field = new_field or {}
    results = _empty_results(variants)
    services: dict[str, tuple[subprocess.Popen, str, Path]] = {}
    try:
        for i, (variant, env) in enumerate(variants.items()):
            process, url = start_service(name, {**base_env, **env}, workdir / f"service-{i}.log")
            services[variant] = process, url, wrk_script(bodies, workdir / f"bodies-{i}.lua", new_field.get(variant))
        for _, url, script in services.values():
            under_load(url, 2, script)  # warm-up
            time.sleep(pause_s)
        for cycle in range(cycles):
            for variant, (_, url, script) in services.items():
                _keep_load(results[variant], under_load(url, seconds, script))
                time.sleep(pause_s)
            print(f"cycle {cycle + 1}: " + ", ".join(f"{v} {r['rps'][-1]:.0f}" for v, r in results.items()),
                  file=sys.stderr)
        for _ in range(paced_rounds):
            for variant, (_, url, _) in services.items():
                results[variant]["lat"].extend(paced_latencies(url, bodies, paced_s, new_field=new_field.get(variant)))
                time.sleep(pause_s)
    finally:
        for process, _, _ in services.values():
            process.terminate()
            process.wait()
    return results


def ratio_interval(numerator: list[float], denominator: list[float], level: float = 0.90,
                   resamples: int = 4000) -> tuple[float, float, float]:
    """Ratio of the means of paired bursts, and its bootstrap interval: cycles resampled whole,
    so each keeps its pair of bursts seconds apart."""
    rng = random.Random(0)
    n = len(numerator)
    ratios = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        ratios.append(sum(numerator[i] for i in picks) / sum(denominator[i] for i in picks))
    ratios.sort()
    tail = (1 - level) / 2
    return (sum(numerator) / sum(denominator), ratios[int(tail * resamples)],
            ratios[min(resamples - 1, int((1 - tail) * resamples))])


def arguments(rounds: int = 3, seconds: int = 10) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--seconds", type=int, default=seconds)
    docs_arguments(parser)
    return parser.parse_args()


def trained(name: str) -> tuple[Path, str]:
    """A fresh work directory and the artifacts directory `name` is trained into (MLOBS_ARTIFACTS_DIR wins)."""
    workdir = Path(tempfile.mkdtemp(prefix="mlobs-bench-"))
    # The services' logs and audit stores grow by about 100 MB a run; a run's scratch goes with it.
    atexit.register(shutil.rmtree, workdir, True)
    artifacts = os.environ.get("MLOBS_ARTIFACTS_DIR", str(workdir / "artifacts"))
    subprocess.run([sys.executable, "-m", "mlobs.cli", "train", name, "--quiet"],
                   env={**os.environ, "MLOBS_ARTIFACTS_DIR": artifacts}, check=True)
    return workdir, artifacts

