"""The detector contract, run over every registered detector, and the shared input checks."""

import numpy as np
import pandas as pd
import pytest

from tests.ztad.detection.detectors.synthetic import FAST_PARAMS, far_anomalies, normal_features
from ztad.detection.detectors import (
    DETECTORS,
    FeatureMismatchError,
    InsufficientDataError,
    InvalidFeaturesError,
    NotFittedError,
    VerifiedArtifacts,
    load_detector,
    make_detector,
)
from ztad.detection.detectors.base import SCORE_CHUNK_ROWS, calibration_split, feature_matrix

NAMES = sorted(DETECTORS)


@pytest.fixture(scope="module")
def train():
    return normal_features(3000, seed=1)


@pytest.fixture(scope="module")
def fresh_normal():
    return normal_features(4000, seed=2)


@pytest.fixture(scope="module")
def anomalies():
    return far_anomalies(12, seed=3)


@pytest.fixture(scope="module", params=NAMES)
def fitted(request, train):
    name = request.param
    detector = make_detector(name, random_state=5, **FAST_PARAMS[name])
    returned = detector.fit(train)
    return name, detector, returned


def test_registry_holds_the_three_required_detectors():
    assert {"isolation_forest", "ocsvm", "autoencoder"} <= set(DETECTORS)


@pytest.mark.parametrize("name", NAMES)
def test_init_only_stores_hyperparameters(name):
    params = {"random_state": 3, **FAST_PARAMS[name]}
    detector = make_detector(name, **params)
    assert not [a for a in vars(detector) if a.endswith("_")]
    assert {k: detector.get_params()[k] for k in params} == params
    assert detector.name == name and not detector.is_fitted


def test_fit_returns_self_with_learned_attributes(fitted, train):
    _, detector, returned = fitted
    assert returned is detector
    assert detector.feature_names_in_ == list(train.columns)
    assert detector.n_features_in_ == train.shape[1]
    assert np.isfinite(detector.threshold_)
    assert np.all(np.diff(detector.reference_scores_) >= 0)
    # 20 % of the rows are held out to calibrate on.
    assert detector.calibration_scores_.shape == (600,)


def test_score_and_predict_shapes(fitted, fresh_normal):
    _, detector, _ = fitted
    scores = detector.score_samples(fresh_normal)
    labels = detector.predict(fresh_normal)
    assert scores.shape == (len(fresh_normal),) and scores.dtype == np.float64
    assert np.isfinite(scores).all()
    assert labels.shape == scores.shape and set(np.unique(labels)) <= {0, 1}
    np.testing.assert_array_equal(labels, (scores > detector.threshold_).astype(int))


def test_numpy_input_scores_like_the_frame(fitted, fresh_normal):
    _, detector, _ = fitted
    np.testing.assert_array_equal(
        detector.score_samples(fresh_normal.to_numpy()), detector.score_samples(fresh_normal)
    )


def test_a_day_scored_in_chunks_scores_as_it_would_in_one_go(fitted, fresh_normal):
    _, detector, _ = fitted
    repeats = SCORE_CHUNK_ROWS // len(fresh_normal) + 2
    day = np.tile(fresh_normal.to_numpy(), (repeats, 1))[: SCORE_CHUNK_ROWS + 1001]
    chunked = detector.score_samples(day)
    whole = np.asarray(detector._score(day), dtype=np.float64)
    np.testing.assert_array_equal(chunked, whole)


def test_a_day_of_several_chunks_scores_the_same_on_one_thread_or_several(fitted, fresh_normal, monkeypatch):
    from ztad.detection.detectors import base

    _, detector, _ = fitted
    day = np.tile(fresh_normal.to_numpy(), (3 * SCORE_CHUNK_ROWS // len(fresh_normal) + 1, 1))[: 3 * SCORE_CHUNK_ROWS - 7]
    monkeypatch.setattr(base, "SCORE_THREADS", 3)
    threaded = detector.score_samples(day)
    monkeypatch.setattr(base, "SCORE_THREADS", 1)
    np.testing.assert_array_equal(threaded, detector.score_samples(day))


def test_a_small_call_split_among_threads_scores_as_in_one_go(fitted, fresh_normal, monkeypatch):
    from ztad.detection.detectors import base

    _, detector, _ = fitted
    size = 2 * base.MIN_THREAD_ROWS + 1000
    rows = np.tile(fresh_normal.to_numpy(), (size // len(fresh_normal) + 1, 1))[:size]
    monkeypatch.setattr(base, "SCORE_THREADS", 2)
    parts = detector._part_rows(len(rows))
    assert parts == (size // 2 if detector.rows_split_freely else SCORE_CHUNK_ROWS)
    np.testing.assert_array_equal(detector.score_samples(rows), np.asarray(detector._score(rows), dtype=np.float64))


def test_parts_cover_the_rows_once():
    from ztad.detection.detectors.base import run_in_parts

    for rows, part, expected in [(10, 4, [(0, 4), (4, 8), (8, 10)]), (3, 4, [(0, 3)]), (0, 4, [])]:
        seen = []
        run_in_parts(rows, part, lambda start, stop, seen=seen: seen.append((start, stop)))
        assert sorted(seen) == expected


def test_parts_run_on_the_scoring_threads_and_a_scoring_thread_runs_its_own_parts_itself():
    import threading

    from ztad.detection.detectors.base import run_in_parts

    def record(names):
        return lambda start, stop: names.setdefault(start, set()).add(threading.current_thread().name)

    alone, several, inner = {}, {}, {}
    run_in_parts(3, 4, record(alone))
    run_in_parts(8, 4, record(several))
    run_in_parts(8, 4, lambda start, stop: run_in_parts(2, 1, record(inner.setdefault(start, {}))))
    assert alone == {0: {threading.current_thread().name}}
    assert sorted(several) == [0, 4] and all(name.startswith("ztad-score") for (name,) in several.values())
    for parts in inner.values():  # both inner parts on the one scoring thread that asked for them
        assert sorted(parts) == [0, 1] and len(parts[0] | parts[1]) == 1 and parts[0] == parts[1]
        assert next(iter(parts[0])).startswith("ztad-score")


def test_a_request_sized_call_is_scored_in_one_part(fitted, monkeypatch):
    from ztad.detection.detectors import base

    _, detector, _ = fitted
    monkeypatch.setattr(base, "SCORE_THREADS", 2)
    assert detector._part_rows(10_000) >= 10_000


def test_same_seed_gives_the_same_scores(fitted, train, fresh_normal):
    name, detector, _ = fitted
    again = make_detector(name, random_state=5, **FAST_PARAMS[name]).fit(train)
    np.testing.assert_array_equal(
        again.score_samples(fresh_normal), detector.score_samples(fresh_normal)
    )
    assert again.threshold_ == detector.threshold_


def test_save_then_load_gives_identical_scores(fitted, fresh_normal, anomalies, tmp_path):
    name, detector, _ = fitted
    detector.save(tmp_path / name)
    loaded = load_detector(VerifiedArtifacts(tmp_path / name, "test"))
    assert type(loaded) is type(detector)
    assert loaded.get_params() == detector.get_params()
    assert loaded.threshold_ == detector.threshold_
    both = pd.concat([fresh_normal, anomalies], ignore_index=True)
    np.testing.assert_array_equal(loaded.score_samples(both), detector.score_samples(both))
    assert type(detector).load(VerifiedArtifacts(tmp_path / name, "test")).threshold_ == detector.threshold_


def test_injected_anomalies_score_above_the_threshold(fitted, anomalies):
    _, detector, _ = fitted
    scores = detector.score_samples(anomalies)
    assert (scores > detector.threshold_).all(), scores - detector.threshold_


def test_threshold_holds_the_false_positive_budget_on_new_normal_rows(fitted, fresh_normal):
    _, detector, _ = fitted
    rate = detector.predict(fresh_normal).mean()
    # target_fpr is 1 %; 600 calibration rows estimate that quantile only roughly.
    assert 0.004 <= rate <= 0.025


def test_scoring_other_features_is_refused(fitted, fresh_normal):
    _, detector, _ = fitted
    renamed = fresh_normal.rename(columns={"ratio": "bytes_ratio"})
    expected = "missing \\['ratio'\\].*unexpected \\['bytes_ratio'\\]"
    with pytest.raises(FeatureMismatchError, match=expected):
        detector.score_samples(renamed)
    with pytest.raises(FeatureMismatchError, match="another order"):
        detector.score_samples(fresh_normal[fresh_normal.columns[::-1]])
    with pytest.raises(FeatureMismatchError, match="trained on 6 features but got 5"):
        detector.score_samples(fresh_normal.to_numpy()[:, :5])


def test_loaded_model_refuses_other_features(fitted, fresh_normal, tmp_path):
    name, detector, _ = fitted
    detector.save(tmp_path / name)
    loaded = load_detector(VerifiedArtifacts(tmp_path / name, "test"))
    with pytest.raises(FeatureMismatchError, match="missing \\['flag'\\]"):
        loaded.score_samples(fresh_normal.drop(columns="flag"))


@pytest.mark.parametrize("name", NAMES)
def test_unfitted_detector_refuses_to_score_or_save(name, tmp_path, fresh_normal):
    detector = make_detector(name)
    with pytest.raises(NotFittedError, match="fit"):
        detector.score_samples(fresh_normal)
    with pytest.raises(NotFittedError):
        detector.save(tmp_path)


# --------------------------------------------------------------------------- input checks


def test_nan_is_refused_naming_row_and_feature():
    frame = normal_features(30, seed=1)
    frame.index = [f"e{i}" for i in range(30)]
    frame.loc["e7", "ratio"] = np.nan
    with pytest.raises(InvalidFeaturesError, match="row 'e7', feature 'ratio'.*1 such cell"):
        make_detector("ecod").fit(frame)


def test_nan_in_an_array_is_refused_naming_its_row_by_position():
    values = np.ones((4, 2))
    values[2, 1] = np.inf
    with pytest.raises(InvalidFeaturesError, match="row 2, feature 'x1'.*1 such cell"):
        feature_matrix(values, None, None)


def test_non_numeric_column_is_refused():
    frame = normal_features(30, seed=1).assign(user=["u"] * 30)
    with pytest.raises(InvalidFeaturesError, match="\\['user'\\] are not numeric"):
        feature_matrix(frame, None, None)


def test_one_dimensional_input_is_refused():
    with pytest.raises(InvalidFeaturesError, match="2-D"):
        feature_matrix(np.zeros(5), None, None)


def test_too_few_training_rows_are_refused():
    with pytest.raises(InsufficientDataError, match="at least 20"):
        make_detector("isolation_forest").fit(normal_features(10, seed=1))


def test_calibration_split_is_seeded_disjoint_and_complete():
    fit_a, cal_a = calibration_split(100, 0.2, seed=1)
    fit_b, cal_b = calibration_split(100, 0.2, seed=1)
    np.testing.assert_array_equal(cal_a, cal_b)
    assert len(cal_a) == 20 and not set(fit_a) & set(cal_a)
    assert sorted(set(fit_a) | set(cal_a)) == list(range(100))
    assert not np.array_equal(calibration_split(100, 0.2, seed=2)[1], cal_a)


def test_zero_calibration_fraction_calibrates_on_the_fitted_rows():
    fit_rows, calibration_rows = calibration_split(50, 0.0, seed=1)
    np.testing.assert_array_equal(fit_rows, calibration_rows)


def test_explicit_calibration_rows_set_the_reference(train):
    calibration = normal_features(300, seed=9)
    detector = make_detector("ecod").fit(train, calibration=calibration)
    np.testing.assert_array_equal(detector.calibration_scores_, detector.score_samples(calibration))


@pytest.mark.parametrize("name", ["ecod", "isolation_forest"])
def test_calibrate_moves_the_threshold_to_new_normal_rows(name, train):
    detector = make_detector(name, **FAST_PARAMS[name]).fit(train)
    before = detector.threshold_
    busier = normal_features(2000, seed=11).assign(count=lambda f: f["count"] + 3)
    assert detector.calibrate(busier) is detector
    assert detector.threshold_ > before
    assert detector.calibration_scores_.size == 2000
    assert (detector.score_samples(busier) > detector.threshold_).mean() <= detector.target_fpr


def test_a_forked_child_scores_on_threads_of_its_own(fitted, fresh_normal):
    import os

    from ztad.detection.detectors import base

    _, detector, _ = fitted
    rows = np.tile(fresh_normal.to_numpy(), (2 * SCORE_CHUNK_ROWS // len(fresh_normal) + 1, 1))[: 2 * SCORE_CHUNK_ROWS]
    expected = detector.score_samples(rows)  # the parent's scoring threads are started
    assert base._POOL is not None
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        same = np.array_equal(detector.score_samples(rows), expected)
        os.write(write, b"1" if same else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(child, 0)
    assert answer == b"1"


def test_per_feature_frames_share_one_column_index_of_the_models_names():
    from ztad.detection.detectors.ecod import ECODDetector

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    detector = ECODDetector().fit(X)
    first, second = detector.feature_contributions(X.iloc[:2]), detector.feature_contributions(X.iloc[5:9])
    assert list(first.columns) == ["a", "b", "c"] and first.columns is second.columns
    assert second.index.tolist() == [5, 6, 7, 8]


def test_the_scoring_threads_end_when_stopped_and_start_again_when_needed(fitted, fresh_normal):
    import threading

    from ztad.detection.detectors import base

    _, detector, _ = fitted
    rows = np.tile(fresh_normal.to_numpy(), (2 * SCORE_CHUNK_ROWS // len(fresh_normal) + 1, 1))[: 2 * SCORE_CHUNK_ROWS]
    expected = detector.score_samples(rows)
    base.stop_scoring_threads()
    assert not [t for t in threading.enumerate() if t.name.startswith(base._POOL_PREFIX)]
    assert np.array_equal(detector.score_samples(rows), expected)
    assert base._POOL is not None
