"""Drift detection benchmark on the digits CNN: detection rate and false-positive rate per shift,
at window sizes 50, 200 and 1000, with evaluation time per window.

Valid null: the reference is the model's reference split, the windows come from the disjoint holdout
pool, and no image is repeated within a window. Digits has only 397 holdout images, so every image
(reference and holdout alike) goes through a small random affine jitter (rotation <= 4 degrees,
shift <= 1 px, scale <= 4%), and the holdout is expanded to COPIES jittered variants per source
image: windows of 50 and 200 use distinct source images; windows of 1000 necessarily reuse a
source image (as a different jittered variant) about 2.5 times on average.

Detectors: softmax KS (alpha 0.05, Bonferroni over 10 classes), MMD on an untrained encoder's
embedding (alpha 0.05, 100 permutations), and the pair "KS or MMD" with each at alpha 0.025 so the
pair's false-positive rate stays at or below 5%.

Run: .venv/bin/python benchmarks/drift/detection.py [--artifacts DIR] [--trials 40]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mlobs.drift.detectors import EmbeddingMMD, SoftmaxKS
from mlobs.drift.reference import load_reference
from mlobs_services.vision import images, model

COPIES = 6
WINDOWS = (50, 200, 1000)
ALPHA = 0.05

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
CLASS_PRIOR = "class prior (60% from classes 0-2)"


def pool(pixels: np.ndarray, copies: int, shift, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    out = []
    for c in range(copies):
        for p in pixels:
            out.append(model.preprocess(shift(images.jitter(model.digit_image(p), rng), rng)))
    return torch.stack(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=None, help="artifacts dir (default: train into a temp dir)")
    parser.add_argument("--trials", type=int, default=40, help="windows per cell at sizes 50 and 200 (half at 1000)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    artifacts = args.artifacts or Path(tempfile.mkdtemp(prefix="mlobs-bench-"))
    version_dir = model.latest_version_dir(artifacts)
    if version_dir is None:
        model.train(artifacts)
        version_dir = model.latest_version_dir(artifacts)
    net, info = model.load(version_dir)
    reference = load_reference(version_dir)
    holdout = np.load(version_dir / "holdout.npz")
    h_pixels, h_labels = holdout["pixels"], holdout["labels"]
    n_src = len(h_labels)

    ref_images = pool(reference["pixels"], 1, SHIFTS["none"], seed=10)
    ref_probs = model.predict_proba(net, ref_images)
    ks, mmd = SoftmaxKS(ALPHA), EmbeddingMMD(ALPHA, n_permutations=100)
    ks.fit(ref_probs)
    mmd.fit(ref_images.numpy())

    item_labels = np.tile(h_labels, COPIES)
    item_source = np.tile(np.arange(n_src), COPIES)
    rows = []
    base_accuracy = None
    ks_times = {w: [] for w in WINDOWS}
    ks_fwd_times = {w: [] for w in WINDOWS}
    mmd_times = {w: [] for w in WINDOWS}
    for shift_name in (*SHIFTS, CLASS_PRIOR):
        shift = SHIFTS.get(shift_name, SHIFTS["none"])
        imgs = pool(h_pixels, COPIES, shift, seed=20 + len(rows))
        probs = model.predict_proba(net, imgs)
        correct = probs.argmax(1) == item_labels
        rng = np.random.default_rng(1)
        sampler = images.ClassPriorSampler(item_labels, favoured=[0, 1, 2], weight=0.6, seed=2)
        accuracy = correct.mean() if shift_name != CLASS_PRIOR else correct[sampler.sample(1000)].mean()
        if shift_name == "none":
            base_accuracy = accuracy
        cells = {}
        for w in WINDOWS:
            trials = args.trials if w < 1000 else max(args.trials // 2, 5)
            hits = {"ks": 0, "mmd": 0, "pair": 0}
            for _ in range(trials):
                if shift_name == CLASS_PRIOR:
                    idx = sampler.sample(w)
                elif w <= n_src:  # distinct source images, a random jittered variant of each
                    idx = rng.choice(n_src, w, replace=False) + n_src * rng.integers(0, COPIES, w)
                else:
                    idx = rng.choice(len(item_labels), w, replace=False)
                started = time.perf_counter()
                [k] = ks.score(probs[idx])
                ks_times[w].append(time.perf_counter() - started)
                started = time.perf_counter()
                ks.score(model.predict_proba(net, imgs[idx]))
                ks_fwd_times[w].append(time.perf_counter() - started)
                started = time.perf_counter()
                [m] = mmd.score(imgs[idx].numpy())
                mmd_times[w].append(time.perf_counter() - started)
                hits["ks"] += k.drift
                hits["mmd"] += m.drift
                hits["pair"] += (k.p_value < ALPHA / 2 / 10) or (m.p_value < ALPHA / 2)
            cells[w] = {name: n / trials for name, n in hits.items()}
        rows.append((shift_name, (base_accuracy - accuracy) * 100, cells))
        print(f"done: {shift_name}", file=sys.stderr, flush=True)

    print(f"Model {info.version}: accuracy on the jittered holdout {base_accuracy:.2%}. "
          f"Rates are the share of windows flagged ({args.trials} windows per cell at 50 and 200, "
          f"{max(args.trials // 2, 5)} at 1000). 'none' rows are false-positive rates.\n")
    header = "| shift | accuracy drop (points) | " + " | ".join(
        f"KS / MMD / pair @{w}" for w in WINDOWS
    ) + " |"
    print(header)
    print("|" + "---|" * (2 + len(WINDOWS)))
    for name, drop, cells in rows:
        parts = [f"{c['ks']:.0%} / {c['mmd']:.0%} / {c['pair']:.0%}" for c in (cells[w] for w in WINDOWS)]
        print(f"| {name} | {drop:+.1f} | " + " | ".join(parts) + " |")
    print("\nEvaluation time per window (median, one CPU thread):\n")
    print("| window | KS on shipped softmax | KS incl. forward pass | MMD incl. embedding |")
    print("|---|---|---|---|")
    for w in WINDOWS:
        print(
            f"| {w} | {np.median(ks_times[w]) * 1e3:.1f} ms | {np.median(ks_fwd_times[w]) * 1e3:.1f} ms | "
            f"{np.median(mmd_times[w]) * 1e3:.0f} ms |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
