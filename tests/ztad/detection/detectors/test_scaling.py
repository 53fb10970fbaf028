"""Robust standardisation: which features are compressed, and degenerate columns."""

import numpy as np
import pytest

from tests.ztad.detection.detectors.synthetic import normal_features
from ztad.detection.detectors.scaling import FeatureScaler, compress, heavy_tailed


def test_compress_keeps_order_and_sign():
    values = np.array([-100.0, -1.0, 0.0, 0.5, 1.0, 1e6])
    out = compress(values)
    assert np.all(np.diff(out) > 0)
    np.testing.assert_array_equal(np.sign(out), np.sign(values))


def test_only_heavy_tailed_features_are_compressed():
    frame = normal_features(5000, seed=1)
    flags = dict(zip(frame.columns, heavy_tailed(frame.to_numpy())))
    assert not flags["gauss"] and not flags["shifted"] and not flags["count"]
    assert flags["ratio"] and flags["flag"]


def test_a_normal_feature_stays_linear():
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1, (5000, 1))
    scaler = FeatureScaler.fit(values)
    far = scaler.transform(np.array([[9.0]]))[0, 0]
    assert far == pytest.approx(9.0, rel=0.1)


def test_median_maps_to_zero_and_degenerate_columns_get_finite_scale():
    values = np.column_stack([np.arange(100.0), np.zeros(100), (np.arange(100) < 3).astype(float)])
    scaler = FeatureScaler.fit(values)
    assert scaler.scale[1] == 1.0  # constant column
    assert 0 < scaler.scale[2] < 1  # flag: quartiles coincide, its standard deviation is used
    out = scaler.transform(values)
    assert np.isfinite(out).all()
    assert np.median(out[:, 0]) == pytest.approx(0.0)


def test_round_trip_through_a_dict():
    scaler = FeatureScaler.fit(normal_features(500, seed=1).to_numpy())
    again = FeatureScaler.from_dict(scaler.to_dict())
    values = normal_features(20, seed=2).to_numpy()
    np.testing.assert_array_equal(again.transform(values), scaler.transform(values))


def test_transform_compresses_the_chosen_columns_then_centres_and_scales_to_the_last_bit():
    rng = np.random.default_rng(3)
    rows = np.column_stack([rng.lognormal(0, 2, 500), rng.normal(0, 1, 500), rng.pareto(1.5, 500)])
    scaler = FeatureScaler.fit(rows)
    assert scaler.compressed.any() and not scaler.compressed.all()
    fresh = np.vstack([rng.normal(0, 5, (50, 3)), [[-0.0, 0.0, -3.5], [np.nan, -np.inf, np.inf]]])
    expected = (np.where(scaler.compressed, compress(fresh), fresh) - scaler.center) / scaler.scale
    got = scaler.transform(fresh)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
    assert got.dtype == np.float64 and got.flags.c_contiguous
    np.testing.assert_array_equal(fresh[-2], [-0.0, 0.0, -3.5])  # the input is left as it was
