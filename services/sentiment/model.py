"""The sentiment model: TF-IDF word n-grams and logistic regression, trained on the project's corpus."""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from tqdm import tqdm

from mlobs.artifacts import Staging, source_revision
from mlobs.drift.calibration import write_calibration
from mlobs.drift.reference import save_reference
from mlobs.model_info import ModelInfo
from mlobs_services.sentiment import corpus

NAME = "sentiment"
MODEL_FILE = "model.joblib"
PARAMS = {
    "corpus": {"n": 4000, "seed": 7, "domain": "reviews", "test_fraction": 0.2},
    # Fresh reviews, disjoint from training and reference, for the drift calibration (seed + 2000): many,
    # so that the pool's own sampling error is small beside a window's.
    "calibration": {"n": 20_000, "seed_offset": 2000, "trials": 200},
    "tfidf": {"ngram_range": [1, 2], "min_df": 2, "sublinear_tf": True},
    "logreg": {"C": 4.0, "max_iter": 2000},
}


def build_pipeline() -> Pipeline:
    tfidf = PARAMS["tfidf"]
    return Pipeline([
        ("tfidf", TfidfVectorizer(ngram_range=tuple(tfidf["ngram_range"]), min_df=tfidf["min_df"],
                                  sublinear_tf=tfidf["sublinear_tf"])),
        ("logreg", LogisticRegression(C=PARAMS["logreg"]["C"], max_iter=PARAMS["logreg"]["max_iter"])),
    ])


def train(artifacts_dir: Path, progress: bool = True) -> ModelInfo:
    steps = tqdm(total=4, desc="training sentiment", unit="step", disable=not progress)
    c = PARAMS["corpus"]
    examples = corpus.generate(n=c["n"], seed=c["seed"], domain=c["domain"])
    train_set, test_set = corpus.split(examples, test_fraction=c["test_fraction"], seed=c["seed"])
    steps.set_postfix_str(f"{len(train_set)} train / {len(test_set)} held out")
    steps.update()

    pipeline = build_pipeline()
    pipeline.fit([t for t, _ in train_set], [y for _, y in train_set])
    steps.update()

    test_texts = [t for t, _ in test_set]
    test_probs = pipeline.predict_proba(test_texts)
    accuracy = float(np.mean(pipeline.classes_[test_probs.argmax(axis=1)] == np.array([y for _, y in test_set])))
    steps.set_postfix_str(f"held-out accuracy {accuracy:.3f}")
    steps.update()

    # sklearn caches id(stop_words), a memory address, on the vectorizer: drop it so the
    # pickle (and so the model version) depends only on what was learned.
    vars(pipeline.named_steps["tfidf"]).pop("_stop_words_id", None)
    with Staging(artifacts_dir, NAME) as staging:
        joblib.dump(pipeline, staging.path / MODEL_FILE)
        # What the drift exporter compares live traffic with: held-out outputs, texts and the vocabulary.
        reference = {"probs": test_probs, "texts": np.array(test_texts),
                     "vocabulary": np.array(sorted(pipeline.named_steps["tfidf"].vocabulary_))}
        classes = list(pipeline.classes_)
        labels = np.array([classes.index(y) for _, y in test_set])
        # labels: the true class of each held-out reference row, for the exporter's class-prior estimate.
        save_reference(staging.path, **reference, labels=labels)
        k = PARAMS["calibration"]
        pool_texts = [t for t, _ in corpus.generate(n=k["n"], seed=c["seed"] + k["seed_offset"], domain=c["domain"])]
        write_calibration(staging.path, reference,
                          {"probs": pipeline.predict_proba(pool_texts), "texts": np.array(pool_texts)},
                          trials=k["trials"], seed=c["seed"], labelled_probs=test_probs,
                          labels=labels)
        info = staging.publish(
            data_hash=corpus.corpus_hash(examples)[:12],
            params=PARAMS,
            code_revision=source_revision(corpus, sys.modules[__name__]),
            classes=[str(c) for c in pipeline.classes_],
            metrics={"held_out_accuracy": round(accuracy, 4), "train_examples": len(train_set),
                     "held_out_examples": len(test_set)},
        )
    steps.update()
    steps.close()
    return info


def load(directory: Path) -> Pipeline:
    return joblib.load(Path(directory) / MODEL_FILE)
