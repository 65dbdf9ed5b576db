from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlobs.drift.exporter import create_app
from mlobs.drift.reference import save_reference
from mlobs.drift.settings import DriftSettings
from mlobs.settings import Settings

VOCABULARY = ["good", "bad", "film", "plot", "the", "was"]


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def probs(rng: np.random.Generator, n: int, shift: float = 0.0) -> np.ndarray:
    logits = rng.normal(0, 1, (n, 3))
    logits[:, 0] += 2.0 + shift
    return softmax(logits)


def texts(rng: np.random.Generator, n: int, oov: float) -> list[str]:
    return [
        " ".join("qq" if rng.random() < oov else VOCABULARY[rng.integers(len(VOCABULARY))] for _ in range(6))
        for _ in range(n)
    ]


@pytest.fixture
def exporter(tmp_path):
    rng = np.random.default_rng(0)
    save_reference(
        tmp_path / "sentiment" / "v1", probs=probs(rng, 400), texts=texts(rng, 400, 0.05), vocabulary=VOCABULARY
    )
    settings = Settings(
        artifacts_dir=tmp_path,
        drift=DriftSettings(window_size=100, min_window_samples=50, reference_retry_seconds=60),
        _env_file=None,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        yield client, app


def ingest(client: TestClient, samples: list[dict], model: str = "sentiment", version: str = "v1"):
    return client.post(
        "/ingest", json={"service": "sentiment-api", "model": model, "model_version": version, "samples": samples}
    )


def samples(rng: np.random.Generator, n: int, shift: float = 0.0, oov: float = 0.05) -> list[dict]:
    return [{"probs": p.tolist(), "text": t} for p, t in zip(probs(rng, n, shift), texts(rng, n, oov))]


def value(app, name: str, detector: str, feature: str | None = "") -> float | None:
    labels = {"service": "sentiment-api", "model": "sentiment", "model_version": "v1", "detector": detector}
    if feature is not None:
        labels["feature"] = feature
    return app.state.registry.get_sample_value(name, labels)


@contextmanager
def after_one_window(artifacts_dir, rng):
    """The exporter over `artifacts_dir`, once it has evaluated one window of 100 sentiment samples."""
    settings = Settings(artifacts_dir=artifacts_dir, drift=DriftSettings(window_size=100, min_window_samples=50),
                        _env_file=None)
    app = create_app(settings)
    with TestClient(app) as client:
        ingest(client, samples(rng, 100))
        assert app.state.engine.wait_idle(30)
        yield app, client


def test_a_full_window_is_evaluated_and_exposed_with_model_version_and_detector_labels(exporter):
    client, app = exporter
    rng = np.random.default_rng(1)
    assert ingest(client, samples(rng, 60)).status_code == 202
    assert ingest(client, samples(rng, 40)).status_code == 202
    assert app.state.engine.wait_idle(30)
    for detector in ("softmax_ks", "text_oov"):
        assert value(app, "mlobs_drift_detected", detector) == 0
        assert 0.0 <= value(app, "mlobs_drift_p_value", detector) <= 1.0
        assert value(app, "mlobs_drift_threshold", detector) > 0
        assert value(app, "mlobs_drift_window_samples", detector, None) == 100
        assert value(app, "mlobs_drift_evaluations_total", detector, None) == 1
        assert value(app, "mlobs_drift_last_evaluation_timestamp_seconds", detector, None) > 1.7e9
    text = client.get("/metrics").text
    assert (
        'mlobs_drift_p_value{detector="softmax_ks",feature="",model="sentiment",'
        'model_version="v1",service="sentiment-api"}'
    ) in text


def test_shifted_traffic_sets_drift_detected(exporter):
    client, app = exporter
    rng = np.random.default_rng(2)
    ingest(client, samples(rng, 100, shift=-2.5, oov=0.5))
    assert app.state.engine.wait_idle(30)
    assert value(app, "mlobs_drift_detected", "softmax_ks") == 1
    assert value(app, "mlobs_drift_detected", "text_oov") == 1


def test_a_partial_window_is_not_evaluated(exporter):
    client, app = exporter
    ingest(client, samples(np.random.default_rng(3), 99))
    assert app.state.engine.wait_idle(5)
    assert value(app, "mlobs_drift_evaluations_total", "softmax_ks", None) is None
    assert client.get("/healthz").json()["windows"] == {"sentiment-api/sentiment/v1": 99}


def test_a_version_without_reference_is_reported_and_counted_not_crashed(exporter):
    client, app = exporter
    rng = np.random.default_rng(4)
    ingest(client, samples(rng, 100), version="v404")
    assert app.state.engine.wait_idle(30)
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert "sentiment/v404" in health["missing_references"]
    labels = {"service": "sentiment-api", "model": "sentiment", "model_version": "v404"}
    assert app.state.registry.get_sample_value("mlobs_drift_reference_missing", labels) == 1
    ingest(client, samples(rng, 10), version="v404")
    dropped = app.state.registry.get_sample_value(
        "mlobs_drift_samples_dropped_total", {**labels, "reason": "no_reference"}
    )
    assert dropped == 110


def test_a_bad_batch_gets_a_clear_400(exporter):
    client, _ = exporter
    assert client.post("/ingest", content=b"not json").status_code == 400
    response = client.post("/ingest", json={"model": "../x", "model_version": "v1", "samples": []})
    assert response.status_code == 400 and "model" in response.json()["error"]
    assert client.post("/ingest", json={"model": "m", "model_version": "v1", "samples": [1]}).status_code == 400


def test_samples_of_the_wrong_length_are_dropped_at_ingest_and_the_good_ones_still_fill_a_window(exporter):
    client, app = exporter
    rng = np.random.default_rng(5)
    broken = [{"probs": [0.5, 0.5], "text": "good"} for _ in range(10)]  # 2 classes, the reference has 3
    assert ingest(client, broken + samples(rng, 100)).json() == {"accepted": 100, "received": 110}
    assert app.state.engine.wait_idle(30)
    assert value(app, "mlobs_drift_evaluations_total", "softmax_ks", None) == 1
    assert value(app, "mlobs_drift_evaluation_errors_total", "softmax_ks", None) is None
    assert app.state.registry.get_sample_value("mlobs_drift_samples_dropped_total", {
        "service": "sentiment-api", "model": "sentiment", "model_version": "v1", "reason": "invalid_sample"}) == 10


def test_outputs_of_another_shape_that_reach_the_engine_are_counted_once_and_the_worker_survives(exporter):
    client, app = exporter
    rng = np.random.default_rng(5)
    broken = [{"probs": [0.5, 0.5], "text": "good"} for _ in range(100)]  # past the exporter's own checks
    app.state.engine.ingest("sentiment-api", "sentiment", "v1", broken)
    assert app.state.engine.wait_idle(30)
    dropped = app.state.registry.get_sample_value("mlobs_drift_samples_dropped_total", {
        "service": "sentiment-api", "model": "sentiment", "model_version": "v1", "reason": "invalid_sample"})
    assert dropped == 100  # once, though two detectors read the outputs
    assert value(app, "mlobs_drift_evaluation_errors_total", "softmax_ks", None) in (None, 0)
    ingest(client, samples(rng, 100))
    assert app.state.engine.wait_idle(30)
    assert value(app, "mlobs_drift_evaluations_total", "softmax_ks", None) == 1
    assert client.get("/healthz").json()["evaluator_alive"] is True


def test_the_latest_versions_are_fitted_before_the_exporter_says_ready(exporter, tmp_path):
    client, app = exporter
    (tmp_path / "sentiment" / "LATEST").write_text("v1\n")
    app.state.engine.preload()
    assert client.get("/readyz").status_code == 200
    assert isinstance(app.state.engine._plans[("sentiment", "v1")], list)


def test_shipped_images_are_tested_per_image_statistic(tmp_path):
    rng = np.random.default_rng(6)
    images = rng.normal(0, 0.1, (300, 1, 8, 8)).astype(np.float32)
    save_reference(tmp_path / "vision" / "v1", probs=probs(rng, 200), images=images[:200])
    settings = Settings(
        artifacts_dir=tmp_path,
        drift=DriftSettings(window_size=100, min_window_samples=50, mmd_permutations=10),
        _env_file=None,
    )
    app = create_app(settings)
    noisy = images[200:] + rng.normal(0, 0.1, images[200:].shape).astype(np.float32)
    samples = [{"probs": p.tolist(), "image": i.tolist()} for p, i in zip(probs(rng, 100), noisy)]
    with TestClient(app) as client:
        client.post("/ingest", json={"service": "vision", "model": "vision", "model_version": "v1", "samples": samples})
        assert app.state.engine.wait_idle(60)
    labels = {"service": "vision", "model": "vision", "model_version": "v1", "detector": "image_stats"}
    for feature in ("mean", "std", "laplacian_energy"):
        assert app.state.registry.get_sample_value("mlobs_drift_p_value", {**labels, "feature": feature}) is not None
    assert app.state.registry.get_sample_value("mlobs_drift_detected", {**labels, "feature": "std"}) == 1
    assert app.state.registry.get_sample_value("mlobs_drift_evaluations_total", labels) == 1


def test_a_calibrated_version_uses_and_exports_its_calibrated_threshold_and_estimated_accuracy(tmp_path):
    from mlobs.drift.calibration import write_calibration

    rng = np.random.default_rng(7)
    reference = {"probs": probs(rng, 400), "texts": np.array(texts(rng, 400, 0.05)), "vocabulary": np.array(VOCABULARY)}
    save_reference(tmp_path / "sentiment" / "v1", **reference)
    pool = {"probs": probs(rng, 1000), "texts": np.array(texts(rng, 1000, 0.05))}
    labels = np.array([rng.choice(3, p=row) for row in reference["probs"]])  # calibrated by construction
    write_calibration(tmp_path / "sentiment" / "v1", reference, pool, trials=60, windows=(100,),
                      labelled_probs=reference["probs"], labels=labels)
    with after_one_window(tmp_path, rng) as (app, client):
        calibration = app.state.engine._plans[("sentiment", "v1")][0].calibration
        assert value(app, "mlobs_drift_threshold", "softmax_ks") == calibration.threshold("softmax_ks", 100)
        who = {"service": "sentiment-api", "model": "sentiment", "model_version": "v1"}
        estimate = app.state.registry.get_sample_value("mlobs_estimated_accuracy", who)
        lower = app.state.registry.get_sample_value("mlobs_estimated_accuracy_lower", who)
        upper = app.state.registry.get_sample_value("mlobs_estimated_accuracy_upper", who)
        assert lower < estimate < upper and abs(estimate - float(np.mean(probs(rng, 5000).max(axis=1)))) < 0.06
        assert app.state.registry.get_sample_value("mlobs_estimated_accuracy_baseline", who) == pytest.approx(
            float(np.mean(labels == reference["probs"].argmax(axis=1))))
        assert "mlobs_estimated_accuracy{" in client.get("/metrics").text


def test_the_calibration_target_and_method_the_artifact_records_are_exported_on_metrics(tmp_path):
    import json

    from mlobs.drift.calibration import CALIBRATION_FILE, write_calibration

    rng = np.random.default_rng(9)
    directory = tmp_path / "sentiment" / "v1"
    reference = {"probs": probs(rng, 400), "texts": np.array(texts(rng, 400, 0.05)), "vocabulary": np.array(VOCABULARY)}
    save_reference(directory, **reference)
    write_calibration(directory, reference, {"probs": probs(rng, 800), "texts": np.array(texts(rng, 800, 0.05))},
                      trials=20, windows=(100,), target=0.01)
    recorded = json.loads((directory / CALIBRATION_FILE).read_text())
    with after_one_window(tmp_path, rng) as (app, client):
        scraped = client.get("/metrics").text
    line = next(x for x in scraped.splitlines() if x.startswith("mlobs_drift_calibration_target{"))
    assert f'method="{recorded["method"]}"' in line and 'model_version="v1"' in line
    assert recorded["method"] == "order-statistic" and float(line.rsplit(" ", 1)[1]) == recorded["target"] == 0.01


def test_a_drifting_client_is_seen_in_its_own_segment_while_the_others_stay_clean(tmp_path):
    rng = np.random.default_rng(8)
    save_reference(tmp_path / "sentiment" / "v1", probs=probs(rng, 400), texts=texts(rng, 400, 0.05),
                   vocabulary=VOCABULARY)
    settings = Settings(artifacts_dir=tmp_path, _env_file=None,
                        drift=DriftSettings(window_size=600, min_window_samples=50, segment_top_n=2))
    app = create_app(settings)
    with TestClient(app) as client:
        batch = []
        for name, shift, n in (("web", 0.0, 200), ("camera-7", -3.0, 200), ("batch-job", 0.0, 100),
                               ("rare-1", 0.0, 50), ("rare-2", 0.0, 50)):
            batch += [{**s, "segment": name} for s in samples(rng, n, shift=shift)]
        ingest(client, batch)
        assert app.state.engine.wait_idle(30)

        def segment(name: str, detector: str = "softmax_ks") -> float | None:
            return app.state.registry.get_sample_value("mlobs_segment_drift_detected", {
                "service": "sentiment-api", "model": "sentiment", "model_version": "v1", "detector": detector,
                "segment": name})

        assert segment("camera-7") == 1 and segment("web") == 0
        assert segment("_other") == 0  # batch-job and the rare clients, beyond the top 2, pooled
        assert segment("batch-job") is None and segment("rare-1") is None
        assert app.state.registry.get_sample_value("mlobs_segment_drift_evaluations_total", {
            "service": "sentiment-api", "model": "sentiment", "model_version": "v1", "detector": "softmax_ks",
            "segment": "camera-7"}) == 1
