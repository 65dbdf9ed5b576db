from __future__ import annotations

import numpy as np
import pytest

from mlobs.drift.calibration import (
    CALIBRATION_FILE,
    Calibration,
    calibrate,
    choose_threshold,
    draw_window,
    TARGET,
    load_calibration,
    rate_bound,
    wilson,
    write_calibration,
)
from mlobs.drift.detectors import SoftmaxKS
from mlobs.drift.plan import plan
from mlobs.drift.settings import DriftSettings


def softmax_outputs(rng: np.random.Generator, n: int, tilt: float = 0.0) -> np.ndarray:
    logits = rng.normal(0.0, 2.0, (n, 4))
    logits[:, 0] += tilt
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def unlucky_reference(rng: np.random.Generator, n: int = 400) -> np.ndarray:
    """A reference drawn from the population, but an unlucky draw: its class-0 outputs sit a little
    low, as a small held-out split can. Every window then looks a little shifted against it."""
    return softmax_outputs(rng, n, tilt=-0.5)


def rate(detector, decide, windows) -> float:
    return float(np.mean([any(r.drift for r in decide(detector.score(w), len(w))) for w in windows]))


@pytest.mark.slow  # hundreds of KS windows
def test_a_fixed_reference_whose_raw_ks_rate_is_high_is_corrected_on_fresh_windows():
    rng = np.random.default_rng(5)
    reference = {"probs": unlucky_reference(rng)}
    calibration = Calibration(calibrate(reference, {"probs": softmax_outputs(rng, 4000)}, windows=(200,),
                                        trials=400, seed=1))
    planned = {p.detector.name: p for p in plan(reference, DriftSettings(), calibration)}
    ks = planned["softmax_ks"]
    fresh = [softmax_outputs(rng, 200) for _ in range(400)]  # neither the reference nor the pool
    raw = rate(ks.detector, lambda results, n: results, fresh)
    calibrated = rate(ks.detector, ks.decide, fresh)
    assert raw > 0.15  # the nominal test (alpha 0.05) flags far more clean windows than it should
    low, high = wilson(round(calibrated * 400), 400)
    assert calibrated <= 0.05 and high <= 0.06, (raw, calibrated, high)
    assert calibration.threshold("softmax_ks", 200) < 0.05 / 4


def test_a_small_pool_still_gives_a_threshold_that_holds_for_windows_it_never_saw():
    # Windows of 200 from a pool of 500 share most rows: their p-values spread too little, and a threshold
    # taken from them alone is too loose for live windows. Across several unlucky references and pools
    # the default (nested-bootstrap) calibration keeps fresh windows at the target.
    rng = np.random.default_rng(8)
    flagged = windows = 0
    for seed in range(4):
        reference = {"probs": unlucky_reference(rng)}
        calibration = Calibration(calibrate(reference, {"probs": softmax_outputs(rng, 500)}, windows=(200,),
                                            trials=200, seed=seed))
        ks = next(p for p in plan(reference, DriftSettings(), calibration) if p.detector.name == "softmax_ks")
        fresh = [softmax_outputs(rng, 200) for _ in range(100)]
        flagged += round(rate(ks.detector, ks.decide, fresh) * len(fresh))
        windows += len(fresh)
    assert calibration.data["sampling"] == "nested-bootstrap"
    assert wilson(flagged, windows)[1] <= 0.05, flagged


def test_a_nested_bootstrap_window_counts_the_pools_sampling_error_twice():
    # A window's mean varies around the pool's by the window's own error (1/200 for unit variance);
    # a bootstrap copy adds the pool's (1/500), a copy of a copy adds it twice.
    rng = np.random.default_rng(3)
    pool = rng.normal(0.0, 1.0, 500)
    pool = (pool - pool.mean()) / pool.std()

    def spread(sampling: str) -> float:
        return float(np.var([pool[draw_window(rng, 500, 200, sampling)].mean() for _ in range(3000)]))

    window, pool_error = 1 / 200, 1 / 500
    assert spread("bootstrap") == pytest.approx(window, rel=0.1)
    assert spread("double-bootstrap") == pytest.approx(window + pool_error, rel=0.1)
    assert spread("nested-bootstrap") == pytest.approx(window + 2 * pool_error, rel=0.1)


def test_an_unknown_sampling_is_refused():
    rng = np.random.default_rng(9)
    with pytest.raises(ValueError, match="unknown sampling"):
        calibrate({"probs": softmax_outputs(rng, 100)}, {"probs": softmax_outputs(rng, 100)}, trials=2,
                  sampling="jackknife")


def test_the_threshold_is_never_raised_above_the_nominal_one():
    assert choose_threshold(np.linspace(0.2, 1.0, 200), nominal=0.05) == 0.05


def test_the_threshold_admits_no_more_windows_than_the_upper_bound_allows():
    p = np.random.default_rng(0).uniform(0, 0.2, 400)
    t = choose_threshold(p, nominal=0.05)
    hits = int(np.sum(p < t))
    assert rate_bound(hits, 400) <= TARGET < rate_bound(hits + 1, 400)


def test_a_calibrated_threshold_exceeds_the_target_rate_in_at_most_one_calibration_in_twenty():
    # Null p-values are uniform, so a threshold's false-positive rate is the threshold itself: over many
    # calibrations of 200 windows, the share whose threshold lets more than TARGET through is the
    # bound's miss rate (exactly P(Binomial(200, TARGET) <= 1) = 3.9%).
    rng = np.random.default_rng(11)
    thresholds = np.array([choose_threshold(rng.uniform(size=200), nominal=1.0) for _ in range(4000)])
    missed = float(np.mean(thresholds > TARGET))
    assert 0.025 < missed <= 0.05, missed
    assert 0.005 < float(np.median(thresholds)) < TARGET  # not a threshold so low that nothing is flagged


def test_a_window_between_calibrated_sizes_takes_the_larger_windows_threshold():
    calibration = Calibration({"detectors": {"softmax_ks": {"rules": [
        {"window": 50, "threshold": 0.004, "nominal": 0.0125, "trials": 10, "nominal_rate": 0, "calibrated_rate": 0},
        {"window": 200, "threshold": 0.001, "nominal": 0.0125, "trials": 10, "nominal_rate": 0, "calibrated_rate": 0},
    ]}}})
    assert calibration.threshold("softmax_ks", 40) == 0.004
    assert calibration.threshold("softmax_ks", 120) == 0.001
    assert calibration.threshold("softmax_ks", 500) == 0.001
    assert calibration.threshold("image_stats", 200) is None


def test_the_calibration_is_written_beside_the_reference_and_read_back(tmp_path):
    rng = np.random.default_rng(2)
    reference = {"probs": softmax_outputs(rng, 300)}
    labels = reference["probs"].argmax(axis=1)
    write_calibration(tmp_path, reference, {"probs": softmax_outputs(rng, 600)}, trials=40,
                      labelled_probs=reference["probs"], labels=labels)
    assert (tmp_path / CALIBRATION_FILE).is_file()
    loaded = load_calibration(tmp_path)
    rules = loaded.rules["softmax_ks"]
    assert [r.window for r in rules] == [50, 200] and all(r.trials == 40 for r in rules)
    assert loaded.estimator is not None and loaded.estimator.baseline == 1.0
    assert load_calibration(tmp_path / "elsewhere") is None


def test_a_calibration_of_an_unknown_format_is_refused(tmp_path):
    (tmp_path / CALIBRATION_FILE).write_text('{"format": 99}')
    with pytest.raises(ValueError, match="unknown calibration format"):
        load_calibration(tmp_path)


def test_a_pool_smaller_than_a_window_gets_no_rule_for_it():
    rng = np.random.default_rng(3)
    data = calibrate({"probs": softmax_outputs(rng, 200)}, {"probs": softmax_outputs(rng, 120)}, trials=20)
    assert [r["window"] for r in data["detectors"]["softmax_ks"]["rules"]] == [50]
    assert data["detectors"]["softmax_ks"]["pool_rows"] == 120


def test_softmax_ks_alone_still_decides_at_its_nominal_level_without_a_calibration():
    rng = np.random.default_rng(4)
    ks = SoftmaxKS(0.05)
    ks.fit(softmax_outputs(rng, 300))
    assert ks.score(softmax_outputs(rng, 100))[0].threshold == pytest.approx(0.05 / 4)


@pytest.mark.slow  # five references, each calibrated twice and scored on 200 fresh windows
def test_a_threshold_that_bounds_only_its_own_windows_at_5_percent_is_brought_under_5_percent_on_traffic():
    # The held-out pool is never quite the traffic: here live outputs lean a little further (tilt 0.15)
    # than the pool's. Bounding the calibration windows' own rate at 5% lets more than 5% of clean live
    # windows through; at the default target (2.5%) the same windows stay under 5%, interval top included.
    # Both count the pool's sampling error once (double-bootstrap), so the margin shown is the target's alone.
    rng = np.random.default_rng(21)
    at_5 = at_default = windows = 0
    for seed in range(5):
        reference = {"probs": unlucky_reference(rng)}
        pool = {"probs": softmax_outputs(rng, 2000)}
        live = [softmax_outputs(rng, 200, tilt=0.15) for _ in range(200)]
        options = {"windows": (200,), "trials": 200, "seed": seed, "sampling": "double-bootstrap"}
        loose = Calibration(calibrate(reference, pool, target=0.05, **options))
        default = Calibration(calibrate(reference, pool, **options))
        ks = next(p for p in plan(reference, DriftSettings()) if p.detector.name == "softmax_ks").detector
        p_values = np.array([min(r.p_value for r in ks.score(w)) for w in live])
        at_5 += int(np.sum(p_values < loose.threshold("softmax_ks", 200)))
        at_default += int(np.sum(p_values < default.threshold("softmax_ks", 200)))
        windows += len(live)
    assert default.target == TARGET and loose.target == 0.05 and default.method == "order-statistic"
    assert at_5 / windows > 0.05, at_5
    assert at_default / windows <= 0.05 and wilson(at_default, windows)[1] <= 0.05, at_default
