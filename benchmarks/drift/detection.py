"""Drift detection benchmark on the digits CNN: detection rate and false-positive rate per shift,
at window sizes 50, 200 and 1000, with evaluation time per window.

Valid null. The benchmark trains its own model on a smaller split (PARAMS: 500 training images,
15 epochs; the service default stays 1,000) so that 1,297 of digits' 1,797 images are held out.
Every trial draws a fresh random partition of those held-out images into a reference of
REFERENCE_SIZE and a disjoint window (50, 200 or 1000 further images): no image appears twice in a
trial, and under no shift reference and window are exchangeable, so each test has its nominal size.
Shifted windows are drawn the same way with the shift applied to the window only. The class-prior
window is drawn from the images left after the reference, over-representing classes 0-2; at 1000
too few of them remain to draw it without repeats, so that cell is not measured.

Detectors, each at alpha 0.05 as the exporter runs them: softmax KS (Bonferroni over 10 classes),
image statistics KS (mean, std, Laplacian energy; Bonferroni over 3), MMD on an untrained encoder's
embedding (100 permutations; p-value (1 + extreme permutations) / 101, never 0). "any" is the
combined decision: any of the three at alpha/3 (Bonferroni across detectors), so its false-positive
rate stays at or below 5%. The no-shift row gets NULL_TRIALS per window: its rate has the tight goal,
and 400 trials put a 95% interval of about +-2 points around it.

Run: .venv/bin/python benchmarks/drift/detection.py [--artifacts DIR] [--trials 40] [--write-docs]
(--write-docs puts the table into docs/benchmarks.md).

With --calibrated it measures instead what the exporter does with one fixed reference per version:
calibrated false-positive rates over several fixed references, mixtures of shifted traffic for vision,
sentiment and credit, and the error of the accuracy estimate (benchmarks/drift/calibrated.py; results
in docs/drift.md, and the figure docs/img/drift-detection.svg, with --write-docs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import publish  # noqa: E402

from mlobs.drift.detectors import EmbeddingMMD, ImageStatsKS, SoftmaxKS  # noqa: E402
from mlobs.drift.reference import load_reference  # noqa: E402
from mlobs_services.vision import images, model  # noqa: E402

PARAMS = {"n_train": 500, "epochs": 15}
REFERENCE_SIZE = 250
WINDOWS = (50, 200, 1000)
ALPHA = 0.05
DETECTORS = ("ks", "stats", "mmd")
NULL_TRIALS = {50: 2000, 200: 2000, 1000: 1000}
FORWARD_TIMED = 200  # windows per size timed with the forward pass (timing only, not a decision)
FAVOURED = (0, 1, 2)

SHIFTS = {
    "none": lambda img, rng: img,
    "noise 0.05 (mild)": lambda img, rng: images.gaussian_noise(img, 0.05, rng),
    "noise 0.15": lambda img, rng: images.gaussian_noise(img, 0.15, rng),
    "noise 0.30": lambda img, rng: images.gaussian_noise(img, 0.30, rng),
    "brightness +0.1, contrast 0.9": lambda img, rng: images.brightness_contrast(img, 0.1, 0.9),
    "brightness +0.3, contrast 0.6": lambda img, rng: images.brightness_contrast(img, 0.3, 0.6),
    "rotation 10 deg": lambda img, rng: images.rotate(img, 10),
    "rotation 25 deg": lambda img, rng: images.rotate(img, 25),
}
CLASS_PRIOR = "class prior"
MILD_NOISE = "noise 0.05 (mild)"


def held_out(version_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every image the model was not trained on: its reference split and its holdout pool."""
    reference = load_reference(version_dir)
    holdout = np.load(version_dir / "holdout.npz")
    return (np.concatenate([reference["pixels"], holdout["pixels"]]),
            np.concatenate([reference["labels"], holdout["labels"]]))


def shifted(pixels: np.ndarray, shift, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.stack([model.preprocess(shift(model.digit_image(p), rng)) for p in pixels])


class Timer:
    def __init__(self) -> None:
        self.seconds: dict[tuple[str, int], list[float]] = {}

    def run(self, key: tuple[str, int], fn, *args):
        started = time.perf_counter()
        out = fn(*args)
        self.seconds.setdefault(key, []).append(time.perf_counter() - started)
        return out

    def median_ms(self, name: str, window: int) -> float:
        return float(np.median(self.seconds[(name, window)])) * 1e3


def trial(window_idx, ref_idx, base, imgs, probs, net, timer, w) -> dict[str, bool]:
    ks, stats, mmd = SoftmaxKS(ALPHA), ImageStatsKS(ALPHA), EmbeddingMMD(ALPHA, n_permutations=100)
    ks.fit(base["probs"][ref_idx])
    stats.fit(base["images"][ref_idx])
    mmd.fit(base["images"][ref_idx])
    window_images = imgs[window_idx]
    results = {
        "ks": timer.run(("ks", w), ks.score, probs[window_idx]),
        "stats": timer.run(("stats", w), stats.score, window_images.numpy()),
        "mmd": timer.run(("mmd", w), mmd.score, window_images.numpy()),
    }
    if len(timer.seconds.get(("ks_forward", w), ())) < FORWARD_TIMED:
        timer.run(("ks_forward", w), lambda: ks.score(model.predict_proba(net, window_images)))
    hits = {name: any(r.drift for r in rs) for name, rs in results.items()}
    hits["any"] = any(r.p_value < r.threshold / len(DETECTORS) for rs in results.values() for r in rs)
    return hits


def run(args: argparse.Namespace) -> dict:
    artifacts = args.artifacts or Path(tempfile.mkdtemp(prefix="mlobs-bench-"))
    info = model.train(artifacts, params=PARAMS)
    version_dir = artifacts / model.MODEL_NAME / info.version
    net, _ = model.load(version_dir)
    pixels, labels = held_out(version_dir)
    base_images = shifted(pixels, SHIFTS["none"], seed=0)
    base = {"images": base_images.numpy(), "probs": model.predict_proba(net, base_images)}
    base_accuracy = float((base["probs"].argmax(1) == labels).mean())

    timer = Timer()
    rows = []
    for s, name in enumerate((*SHIFTS, CLASS_PRIOR)):
        if name in SHIFTS and name != "none":
            imgs = shifted(pixels, SHIFTS[name], seed=100 + s)
        else:
            imgs = base_images
        probs = base["probs"] if imgs is base_images else model.predict_proba(net, imgs)
        correct = probs.argmax(1) == labels
        rng = np.random.default_rng(1000 + s)
        drawn_correct: list[bool] = []
        drawn_favoured: list[bool] = []
        cells: dict[int, dict | None] = {}
        for w in WINDOWS:
            trials = args.trials if w < 1000 else max(args.trials // 2, 5)
            trials = NULL_TRIALS[w] if name == "none" else trials
            if name == CLASS_PRIOR and w > 200:
                cells[w] = None
                continue
            hits = dict.fromkeys((*DETECTORS, "any"), 0)
            for _ in range(trials):
                order = rng.permutation(len(labels))
                ref_idx, rest = order[:REFERENCE_SIZE], order[REFERENCE_SIZE:]
                if name == CLASS_PRIOR:
                    sampler = images.ClassPriorSampler(labels[rest], FAVOURED, 0.6, seed=int(rng.integers(2**32)))
                    window_idx = rest[sampler.sample(w)]
                    drawn_correct.extend(correct[window_idx].tolist())
                    drawn_favoured.extend(np.isin(labels[window_idx], FAVOURED).tolist())
                else:
                    window_idx = rest[:w]
                for key, hit in trial(window_idx, ref_idx, base, imgs, probs, net, timer, w).items():
                    hits[key] += hit
            cells[w] = {key: n / trials for key, n in hits.items()} | {"trials": trials}
        accuracy = float(np.mean(drawn_correct)) if name == CLASS_PRIOR else float(correct.mean())
        if name == CLASS_PRIOR:
            name = (f"class prior (classes 0-2 are {np.mean(drawn_favoured):.0%} of the window, "
                    f"{np.isin(labels, FAVOURED).mean():.0%} of the held-out images)")
        rows.append({"name": name, "drop": (base_accuracy - accuracy) * 100, "cells": cells})
        print(f"done: {name}", file=sys.stderr, flush=True)
    return {"info": info, "n_held_out": len(labels), "base_accuracy": base_accuracy, "rows": rows, "timer": timer}


def wilson(rate: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% interval of a rate measured over n trials."""
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def render(result: dict, trials: int) -> str:
    info, rows, timer = result["info"], result["rows"], result["timer"]
    by_name = {r["name"]: r for r in rows}
    lines = [
        f"Model {info.version} (benchmark split: {PARAMS['n_train']} training images, {PARAMS['epochs']} epochs): "
        f"accuracy {result['base_accuracy']:.2%} on the {result['n_held_out']} held-out images. "
        f"Each trial draws a random disjoint reference ({REFERENCE_SIZE}) and window from those held-out images; "
        f"no image appears twice in a trial. Rates are the share of windows flagged ({trials} trials per cell at "
        f"50 and 200, {max(trials // 2, 5)} at 1000; the 'none' row, the false-positive rate, "
        + ", ".join(f"{n:,} at {w}" for w, n in NULL_TRIALS.items()) + ").",
        "",
        "| shift | accuracy drop (points) | " + " | ".join(f"KS / stats / MMD / any @{w}" for w in WINDOWS) + " |",
        "|" + "---|" * (2 + len(WINDOWS)),
    ]
    for r in rows:
        parts = [
            "n/a" if c is None else " / ".join(f"{c[k]:.0%}" for k in (*DETECTORS, "any"))
            for c in (r["cells"][w] for w in WINDOWS)
        ]
        lines.append(f"| {r['name']} | {r['drop']:+.1f} | " + " | ".join(parts) + " |")
    lines += [
        "",
        "Evaluation time per window (median over all trials, the forward pass over the first "
        f"{FORWARD_TIMED} of each size; one CPU thread; reference of 250):",
        "",
        "| window | KS on shipped softmax | KS incl. forward pass | image stats KS | MMD incl. embedding |",
        "|---|---|---|---|---|",
    ]
    for w in WINDOWS:
        lines.append(
            f"| {w} | {timer.median_ms('ks', w):.1f} ms | {timer.median_ms('ks_forward', w):.1f} ms | "
            f"{timer.median_ms('stats', w):.1f} ms | {timer.median_ms('mmd', w):.0f} ms |"
        )

    none = by_name["none"]["cells"]
    fpr = {w: none[w]["any"] for w in WINDOWS}
    fpr_ci = lambda w: wilson(fpr[w], none[w]["trials"])  # noqa: E731
    costly = [r for r in rows if r["drop"] >= 3.0]
    costly_ok = all(r["cells"][200]["any"] >= 0.95 for r in costly)
    mild = by_name[MILD_NOISE]["cells"][200]
    ks_1000 = timer.median_ms("ks", 1000)
    costly_names = ", ".join(f"{r['name']} {r['drop']:.1f}" for r in costly)
    verdict = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    lines += [
        "",
        "`python benchmarks/drift/detection.py --trials "
        f"{trials} --write-docs` (vision model; method in the script's docstring). \"stats\" is `image_stats` "
        "(KS on per-image mean, standard deviation and Laplacian energy), \"MMD\" is `embedding_mmd`; each column "
        "runs at alpha 0.05 as the exporter does. \"any\" is the combined decision: any of the three at alpha/3. "
        "The class-prior window of 1000 is n/a: after the reference too few images of classes 0-2 remain to draw "
        "it without repeating an image.",
        "",
        "**Against the goals:**",
        "- false positives with no shift at most 5% (combined): "
        f"{verdict(all(v <= 0.05 for v in fpr.values()))}: "
        + ", ".join(f"{fpr[w]:.1%} at {w} (95% interval {fpr_ci(w)[0]:.1%}-{fpr_ci(w)[1]:.1%})" for w in WINDOWS)
        + " (single detectors: " + "; ".join(
            f"{w}: " + " / ".join(f"{none[w][k]:.1%}" for k in DETECTORS) for w in WINDOWS) + ").",
        "- at least 95% detection at window 200 of every shift costing 3 points of accuracy or more "
        f"({costly_names}): {verdict(costly_ok)}, "
        + ", ".join(f"{r['cells'][200]['any']:.0%}" for r in costly) + ".",
        f"- input shifts the model ignores: mild noise 0.05 ({by_name[MILD_NOISE]['drop']:+.1f} points) at window "
        f"200: {verdict(mild['any'] >= 0.95)}, combined {mild['any']:.0%} (KS {mild['ks']:.0%}, image stats "
        f"{mild['stats']:.0%}, MMD {mild['mmd']:.0%}).",
        f"- KS evaluation of a 1,000-sample window under 100 ms: {verdict(ks_1000 < 100)}, {ks_1000:.0f} ms on "
        f"shipped softmax outputs ({timer.median_ms('ks_forward', 1000):.0f} ms when it must also run the model); "
        f"image stats {timer.median_ms('stats', 1000):.0f} ms, MMD {timer.median_ms('mmd', 1000):.0f} ms.",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} at nice 10 on a 2-core machine shared with other work: "
        "the times are upper bounds.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=None, help="artifacts dir (default: a temp dir)")
    parser.add_argument("--trials", type=int, default=40, help="windows per cell at sizes 50 and 200 (half at 1000)")
    parser.add_argument("--calibrated", action="store_true",
                        help="fixed references with calibrated thresholds, mixtures and the accuracy estimate")
    parser.add_argument("--references", type=int, default=5, help="fixed references (with --calibrated)")
    parser.add_argument("--calibration-trials", type=int, default=200, help="windows per detector and size")
    parser.add_argument("--null-windows", type=int, default=400,
                        help="clean windows per fixed reference and size (with --calibrated)")
    parser.add_argument("--write-docs", action="store_true",
                        help="write the table into docs/benchmarks.md (with --calibrated: the tables into "
                             "docs/drift.md and the figure docs/img/drift-detection.svg)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.calibrated:
        import calibrated

        table, result = calibrated.run(args)
        print(table)
        if args.write_docs:
            import figure

            figure.draw(result)
            calibrated.write_docs(table)
        return 0
    publish(render(run(args), args.trials), "drift", args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
