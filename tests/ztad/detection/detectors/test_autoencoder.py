"""Autoencoder specifics: TensorFlow stays out of imports, the NumPy forward pass, per-feature errors,
early stopping."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.ztad.detection.detectors.synthetic import FAST_PARAMS, far_anomalies, normal_features
from ztad.detection.detectors import AutoencoderDetector, DetectorError, make_detector


@pytest.fixture(scope="module")
def model():
    return make_detector("autoencoder", random_state=1, **FAST_PARAMS["autoencoder"]).fit(
        normal_features(2000, seed=1)
    )


def test_importing_the_package_does_not_import_tensorflow():
    code = (
        "import sys, ztad.detection.detectors, ztad.detection.ensemble, ztad.detection.registry, ztad.detection.threshold, ztad.detection.drift; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_feature_errors_explain_the_score(model):
    rows = far_anomalies(6, seed=4)
    rows.index = [f"event-{i}" for i in range(6)]
    errors = model.feature_errors(rows)
    assert list(errors.columns) == model.feature_names_in_
    assert list(errors.index) == list(rows.index)
    assert (errors.to_numpy() >= 0).all()
    np.testing.assert_allclose(errors.mean(axis=1).to_numpy(), model.score_samples(rows))


def test_the_feature_pushed_out_has_the_largest_error(model):
    row = normal_features(1, seed=7)
    row.loc[0, "shifted"] = 60.0
    errors = model.feature_errors(row)
    assert errors.iloc[0].idxmax() == "shifted"


def test_the_numpy_forward_pass_reconstructs_as_keras(model):
    from ztad.detection.detectors.autoencoder import dense_forward, dense_layers

    rows = pd.concat([normal_features(500, seed=9), far_anomalies(20, seed=10)], ignore_index=True)
    Z = model.scaler_.transform(rows.to_numpy()).astype(np.float32)
    ours = dense_forward(dense_layers(model.model_), Z)
    keras = model.reconstruct_with_keras(rows)
    # Keras computes in float32: equal to float32 rounding.
    np.testing.assert_allclose(ours, keras, rtol=1e-5, atol=1e-5)
    one = dense_forward(dense_layers(model.model_), Z[7:8])
    np.testing.assert_array_equal(one, ours[7:8])


def test_feature_contributions_are_the_feature_errors(model):
    rows = normal_features(5, seed=8)
    pd.testing.assert_frame_equal(model.feature_contributions(rows), model.feature_errors(rows))


def test_early_stopping_ends_training_and_keeps_the_best_epoch():
    detector = AutoencoderDetector(
        epochs=60, batch_size=64, learning_rate=0.05, patience=2, random_state=2
    ).fit(normal_features(1000, seed=2))
    history = detector.history_
    assert history["epochs_run"] < 60
    assert history["best_val_loss"] == min(history["val_loss"])
    assert history["epochs_run"] - history["best_epoch"] == 2


def test_training_rows_are_capped_and_split_for_validation():
    detector = AutoencoderDetector(max_training_rows=100, validation_fraction=0.25)
    train, validation = detector._training_rows(np.arange(1000.0).reshape(500, 2))
    assert len(train) == 75 and len(validation) == 25


def test_invalid_validation_fraction_is_refused():
    with pytest.raises(DetectorError, match="validation_fraction"):
        AutoencoderDetector(validation_fraction=1.0)._training_rows(np.zeros((50, 2)))


def test_a_loaded_network_scores_as_saved_without_importing_tensorflow(model, tmp_path):
    model.save(tmp_path / "autoencoder")
    rows = pd.concat([normal_features(50, seed=11), far_anomalies(5, seed=12)], ignore_index=True)
    rows.to_parquet(tmp_path / "rows.parquet")
    code = (
        "import sys, numpy as np, pandas as pd; "
        "from ztad.detection.detectors import VerifiedArtifacts, load_detector; "
        f"loaded = load_detector(VerifiedArtifacts({str(tmp_path / 'autoencoder')!r}, 'test')); "
        f"np.save({str(tmp_path / 'scores.npy')!r}, loaded.score_samples(pd.read_parquet({str(tmp_path / 'rows.parquet')!r}))); "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    np.testing.assert_array_equal(np.load(tmp_path / "scores.npy"), model.score_samples(rows))


def test_a_loaded_network_builds_its_keras_model_when_asked(model, tmp_path):
    from ztad.detection.detectors import VerifiedArtifacts, load_detector

    model.save(tmp_path / "autoencoder")
    loaded = load_detector(VerifiedArtifacts(tmp_path / "autoencoder", "test"))
    rows = normal_features(20, seed=13)
    np.testing.assert_array_equal(loaded.reconstruct_with_keras(rows), model.reconstruct_with_keras(rows))


def test_weights_of_another_network_are_refused(model, tmp_path):
    from ztad.detection.detectors import ArtifactError, VerifiedArtifacts, load_detector
    from ztad.detection.detectors.autoencoder import MODEL_FILE

    model.save(tmp_path / "autoencoder")
    np.savez(tmp_path / "autoencoder" / MODEL_FILE, w000=np.zeros((3, 3), dtype=np.float32))
    with pytest.raises(ArtifactError, match="shapes"):
        load_detector(VerifiedArtifacts(tmp_path / "autoencoder", "test"))


def test_the_forward_pass_gives_each_row_the_same_bits_in_any_block():
    from ztad.detection.detectors.autoencoder import FORWARD_BLOCK_ROWS, dense_forward, network_layout

    rng = np.random.default_rng(3)
    layers = [(rng.normal(size=(i, u)), rng.normal(size=u), relu) for i, u, relu in network_layout(6, (8,), 3)]
    Z = rng.normal(size=(2 * FORWARD_BLOCK_ROWS + 5, 6)).astype(np.float32)
    whole = dense_forward(layers, Z)
    assert whole.shape == (len(Z), 6)
    for start in (0, FORWARD_BLOCK_ROWS - 2, 2 * FORWARD_BLOCK_ROWS + 1):
        np.testing.assert_array_equal(dense_forward(layers, Z[start : start + 3]), whole[start : start + 3])
    reference = Z.astype(np.float64)
    for kernel, bias, relu in layers:
        reference = reference @ kernel + bias
        reference = np.maximum(reference, 0.0) if relu else reference
    np.testing.assert_allclose(whole, reference, rtol=1e-12, atol=1e-12)


def test_a_few_rows_layer_adds_its_inputs_in_the_order_a_large_blocks_does():
    from ztad.detection.detectors import autoencoder

    rng = np.random.default_rng(5)
    kernel, bias = rng.normal(size=(40, 24)), rng.normal(size=24)
    columns = rng.normal(size=(40, 3)) * 10.0 ** rng.integers(-8, 8, size=(40, 1))  # rounding shows
    assert kernel.size * columns.shape[1] <= autoencoder.FEW_PRODUCTS
    one_by_one = np.repeat(bias[:, None], 3, axis=1)
    for weights, values in zip(kernel, columns):
        one_by_one += weights[:, None] * values
    np.testing.assert_array_equal(autoencoder._dense(columns, kernel, bias), one_by_one)
    assert not np.array_equal(one_by_one, (columns.T @ kernel + bias).T)  # the order matters
