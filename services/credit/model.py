"""The credit model: standardised numeric features, one-hot categories, logistic regression.

Linear on purpose: each feature's contribution to the default log-odds is exact,
which is what an adverse-action notice's reason codes need. Age is in the data
but not in the model (fair lending); date of birth and the rest of the personal
fields never reach it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

from mlobs.artifacts import Staging, source_revision
from mlobs.drift.calibration import write_calibration
from mlobs.drift.reference import save_reference
from mlobs.model_info import ModelInfo
from mlobs_services.credit import data
from mlobs_services.credit.coarsen import coarse

NAME = "credit"
MODEL_FILE = "model.joblib"
NUMERIC = ("income", "employment_years", "loan_amount", "debt_to_income", "credit_history_years",
           "num_open_accounts", "num_delinquencies", "loan_to_income")
CATEGORICAL = data.CATEGORICAL
CLASSES = ("approve", "decline")
# The inputs the drift exporter watches: the model's own, never personal fields (age included), and the
# numbers only coarsened (drift_features).
DRIFT_NUMERIC = tuple(n for n in data.NUMERIC if n != "age")
PARAMS = {"data": {"n": 20_000, "seed": 11, "test_fraction": 0.2}, "C": 1.0, "approve_below": 0.2,
          # Fresh applicants, disjoint from training and reference, for the drift calibration: many, so
          # that the pool's own sampling error is small beside a window's.
          "calibration": {"n": 20_000, "seed_offset": 2000, "trials": 200}}

REASONS = {
    "debt_to_income": ("R01", "Debt-to-income ratio too high"),
    "num_delinquencies": ("R02", "Delinquent past or present credit obligations"),
    "credit_history_years": ("R03", "Length of credit history too short"),
    "income": ("R04", "Income insufficient for the amount of credit requested"),
    "loan_to_income": ("R05", "Amount requested too high relative to income"),
    "employment_type": ("R06", "Employment status"),
    "employment_years": ("R07", "Time in current employment too short"),
    "home_ownership": ("R08", "Housing status"),
    "loan_purpose": ("R09", "Purpose of the loan"),
    "num_open_accounts": ("R10", "Number of open accounts"),
    "loan_amount": ("R11", "Amount of credit requested"),
}


def numeric_values(features: dict) -> list[float]:
    income = max(float(features["income"]), 1.0)
    derived = {"loan_to_income": float(features["loan_amount"]) / income}
    return [float(features[name]) if name in features else derived[name] for name in NUMERIC]


@dataclass
class CreditModel:
    mean: np.ndarray
    scale: np.ndarray
    logreg: LogisticRegression
    approve_below: float
    baseline: np.ndarray | None = None  # the average training row: reason codes are relative to it

    def design(self, rows: list[dict]) -> np.ndarray:
        numeric = (np.array([numeric_values(r) for r in rows]) - self.mean) / self.scale
        onehots = [np.array([[r[name] == c for c in cats] for r in rows], dtype=float)
                   for name, cats in CATEGORICAL.items()]
        return np.hstack([numeric, *onehots])

    def default_probability(self, rows: list[dict]) -> np.ndarray:
        return self.logreg.predict_proba(self.design(rows))[:, 1]

    def explain(self, rows: list[dict], top: int = 4) -> list[list[str]]:
        """Reason codes: the features that raised the default log-odds most, above the
        average applicant's contribution (the baseline the intercept absorbs)."""
        x = self.design(rows)
        contributions = (x - self.baseline) * self.logreg.coef_[0]
        groups = self.groups
        out = []
        for row in contributions:
            by_feature = {name: row[cols].sum() for name, cols in groups.items()}
            worst = sorted((v, k) for k, v in by_feature.items() if v > 0)[::-1][:top]
            out.append([REASONS[name][0] for _, name in worst])
        return out

    @property
    def groups(self) -> dict[str, list[int]]:
        groups, i = {name: [k] for k, name in enumerate(NUMERIC)}, len(NUMERIC)
        for name, cats in CATEGORICAL.items():
            groups[name] = list(range(i, i + len(cats)))
            i += len(cats)
        return groups


def train(artifacts_dir: Path, progress: bool = True) -> ModelInfo:
    steps = tqdm(total=3, desc="training credit", unit="step", disable=not progress)
    p = PARAMS["data"]
    rows = data.generate(n=p["n"], seed=p["seed"], today=data.TRAINING_DAY)
    cut = int(len(rows) * (1 - p["test_fraction"]))
    train_rows, test_rows = rows[:cut], rows[cut:]
    features = [r["features"] for r in train_rows]
    numeric = np.array([numeric_values(f) for f in features])
    model = CreditModel(numeric.mean(axis=0), numeric.std(axis=0) + 1e-9,
                        LogisticRegression(C=PARAMS["C"], max_iter=2000),
                        PARAMS["approve_below"])
    x = model.design(features)
    model.logreg.fit(x, [r["defaulted"] for r in train_rows])
    model.baseline = x.mean(axis=0)
    steps.update()

    from sklearn.metrics import roc_auc_score

    test_p = model.default_probability([r["features"] for r in test_rows])
    truth = np.array([r["defaulted"] for r in test_rows])
    auc = float(roc_auc_score(truth, test_p))
    approval = float(np.mean(test_p < model.approve_below))
    steps.set_postfix_str(f"held-out AUC {auc:.3f}, approval rate {approval:.2f}")
    steps.update()

    with Staging(artifacts_dir, NAME) as staging:
        joblib.dump(model, staging.path / MODEL_FILE)
        reference = drift_arrays(model, [r["features"] for r in test_rows])
        # labels: the true class of each held-out reference row, for the exporter's class-prior estimate.
        save_reference(staging.path, **reference, labels=truth.astype(int), numeric_features=np.array(DRIFT_NUMERIC),
                       categorical_features=np.array(list(CATEGORICAL)))
        k = PARAMS["calibration"]
        pool = data.generate(n=k["n"], seed=p["seed"] + k["seed_offset"])
        write_calibration(staging.path, {**reference, "numeric_features": np.array(DRIFT_NUMERIC),
                                         "categorical_features": np.array(list(CATEGORICAL))},
                          drift_arrays(model, [r["features"] for r in pool]), trials=k["trials"], seed=p["seed"],
                          labelled_probs=reference["probs"], labels=truth.astype(int))
        info = staging.publish(
            data_hash=data.data_hash(rows), params=PARAMS,
            code_revision=source_revision(data, sys.modules[__name__]), classes=CLASSES,
            metrics={"held_out_auc": round(auc, 4), "held_out_approval_rate": round(approval, 4),
                     "default_rate": round(float(np.mean([r["defaulted"] for r in rows])), 4),
                     "train_examples": len(train_rows), "held_out_examples": len(test_rows)},
        )
    steps.update()
    steps.close()
    return info


def drift_features(features: dict) -> dict:
    """The features of one applicant the service ships to the drift exporter: the numbers the drift
    detectors watch at three significant figures (coarsen), the categories as they are."""
    return {**{n: coarse(features[n]) for n in DRIFT_NUMERIC}, **{n: features[n] for n in CATEGORICAL}}


def drift_arrays(model: CreditModel, features: list[dict]) -> dict[str, np.ndarray]:
    """What the drift reference (and its calibration pool) holds for these applicants: their numbers
    coarsened as the service ships them (drift_features)."""
    p = model.default_probability(features)
    return {"probs": np.column_stack([1 - p, p]),
            "numeric": np.array([[d[n] for n in DRIFT_NUMERIC] for d in map(drift_features, features)], dtype=float),
            "categorical": np.array([[f[n] for n in CATEGORICAL] for f in features])}


def load(directory: Path) -> CreditModel:
    return joblib.load(Path(directory) / MODEL_FILE)


def mislabel(directory) -> str:
    """Turn the artifact in `directory` into the model a label-column bug would train: the default label
    inverted (for scenario runs: `mlobs.local.bad_version`). Returns what was done."""
    path = Path(directory) / MODEL_FILE
    model = joblib.load(path)
    model.logreg.coef_ = -model.logreg.coef_
    model.logreg.intercept_ = -model.logreg.intercept_
    joblib.dump(model, path)
    return "default label inverted"
