"""Class-prior estimation and the reweighted input tests on the credit model, window by window.

    python benchmarks/prior_shift.py [--windows 40] [--window 200]

Trains the credit model into a temporary artifacts directory (or uses MLOBS_ARTIFACTS_DIR's), draws
windows of each scenario's traffic from the credit workload, runs the model's drift plan with its
calibrated thresholds as the exporter does, then the class-prior estimate and the reweighted tests. Prints
one row per scenario: the defaulters' true and estimated share, how many windows the input tests flagged,
how many of those the estimated class mix explains, and the cost per window of the estimate and the
reweighted tests.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from mlobs.artifacts import version_dir
from mlobs.drift.calibration import load_calibration
from mlobs.drift.plan import plan
from mlobs.drift.prior import load_prior_shift
from mlobs.drift.reference import load_reference
from mlobs.drift.settings import DriftSettings
from mlobs_services.credit import model as credit
from mlobs_services.credit import workload

SCENARIOS = ("normal", workload.CLASS_PRIOR, "income-shift", "purpose-shift")


def samples(model, rows: list[dict]) -> list[dict]:
    p = model.default_probability([r["features"] for r in rows])
    keys = (*credit.DRIFT_NUMERIC, *credit.CATEGORICAL)
    return [{"probs": [1 - q, q], "features": {k: r["features"][k] for k in keys}} for q, r in zip(p, rows)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=40)
    parser.add_argument("--window", type=int, default=200)
    args = parser.parse_args()
    artifacts = Path(os.environ.get("MLOBS_ARTIFACTS_DIR") or tempfile.mkdtemp(prefix="mlobs-prior-shift-"))
    directory = version_dir(artifacts, credit.NAME)
    if directory is None or "labels" not in load_reference(directory):
        credit.train(artifacts, progress=False)
        directory = version_dir(artifacts, credit.NAME)
    reference = load_reference(directory)
    planned = plan(reference, DriftSettings(), load_calibration(directory))
    prior = load_prior_shift(directory, reference, planned)
    model = credit.load(directory)
    decline = prior.classes.index("decline")
    print(f"credit {directory.name}: {len(reference['labels'])} held-out reference rows, "
          f"{prior.estimator.prior[decline]:.1%} defaulted; windows of {args.window}")
    cbpe = load_calibration(directory).estimator
    print("| traffic | defaulters (true) | estimated share, mean (sd) | input tests flagged | of those explained "
          "by the class mix | estimate + reweighted tests per window (median, max) |")
    print("|---|---|---|---|---|---|")
    accuracy_rows = []
    for scenario in SCENARIOS:
        pool = workload.workload(scenario).applications
        rng = random.Random(11)
        shares, flagged, explained, costs, accuracy = [], 0, 0, [], []
        for _ in range(args.windows):
            rows = [rng.choice(pool) for _ in range(args.window)]
            window = samples(model, rows)
            results = {p.detector.name: p.decide(p.detector.score(p.extract(window)), args.window) for p in planned}
            started = time.perf_counter()
            explanation = prior.explain(planned, window, results)
            costs.append(time.perf_counter() - started)
            shares.append(explanation.estimate.shares[decline])
            flagged += bool(explanation.flagged)
            explained += explanation.explains
            probs = np.asarray([s["probs"] for s in window])
            true = float(np.mean(probs.argmax(axis=1) == np.array([r["defaulted"] for r in rows], dtype=int)))
            plain = cbpe.estimate(probs).accuracy
            exported = prior.estimator.accuracy(explanation.estimate, probs) if explanation.explains else None
            accuracy.append((true, plain, exported.accuracy if exported else plain,
                             np.nan if exported is None else exported.lower <= true <= exported.upper))
        truth = np.mean([r["defaulted"] for r in pool])
        print(f"| {scenario} | {truth:.1%} | {np.mean(shares):.1%} ({np.std(shares):.1%}) | {flagged}/{args.windows} "
              f"| {explained}/{flagged} | {np.median(costs) * 1e3:.1f} ms, {np.max(costs) * 1e3:.1f} ms |")
        a = np.array(accuracy, dtype=float)
        accuracy_rows.append(f"| {scenario} | {a[:, 0].mean():.1%} | {a[:, 1].mean():.1%} "
                             f"({np.abs(a[:, 1] - a[:, 0]).mean() * 100:.1f}) | {a[:, 2].mean():.1%} "
                             f"({np.abs(a[:, 2] - a[:, 0]).mean() * 100:.1f}) "
                             f"| {int(np.nansum(a[:, 3]))}/{int(np.isfinite(a[:, 3]).sum())} |")
    print("\n| traffic | true accuracy | CBPE (mean absolute error, points) | exported: the class mix's accuracy where "
          "it explains the inputs, else CBPE (error) | explained windows whose 95% interval holds the truth |")
    print("|---|---|---|---|---|")
    print("\n".join(accuracy_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
