"""Ensemble: quantile normalisation against each member's normal scores, combination, save/load."""

import numpy as np
import pandas as pd
import pytest

from tests.ztad.detection.detectors.synthetic import FAST_PARAMS, far_anomalies, normal_features
from ztad.detection.detectors import FeatureMismatchError, NotFittedError, VerifiedArtifacts, make_detector
from ztad.detection.ensemble import (
    DEFAULT_MEMBERS,
    Ensemble,
    EnsembleError,
    combine_surprises,
    surprise,
    tail_probability,
)

FAST_MEMBERS = ("isolation_forest", "ocsvm", "ecod")


@pytest.fixture(scope="module")
def train():
    return normal_features(3000, seed=1)


@pytest.fixture(scope="module")
def ensemble(train):
    return Ensemble.from_names(FAST_MEMBERS, target_fpr=0.01, random_state=4).fit(train)


@pytest.fixture(scope="module")
def mean_ensemble(train):
    return Ensemble.from_names(FAST_MEMBERS, combine="mean").fit(train)


# --------------------------------------------------------------------------- normalisation


def test_tail_probability_is_the_share_of_reference_at_least_as_high():
    reference = np.arange(1.0, 101.0)  # 1 .. 100
    p = tail_probability(np.array([0.0, 50.0, 100.0]), reference)
    np.testing.assert_allclose(p, [101 / 101, 52 / 101, 2 / 101])


def test_tail_keeps_falling_beyond_the_highest_reference_score():
    reference = np.arange(1.0, 101.0)
    p = tail_probability(np.array([100.5, 120.0, 1000.0]), reference)
    assert (p < 1 / 101).all() and p[0] > p[1] > p[2] > 0


def test_normalisation_makes_scales_agree():
    rng = np.random.default_rng(0)
    reference = np.sort(rng.exponential(size=1000))
    scores = rng.exponential(size=50)
    np.testing.assert_allclose(
        surprise(scores * 1000, reference * 1000), surprise(scores, reference)
    )


def test_surprise_of_reference_scores_is_spread_evenly():
    reference = np.sort(np.random.default_rng(1).normal(size=999))
    p = 10 ** -surprise(reference, reference)
    np.testing.assert_allclose(np.sort(p), np.arange(2, 1001) / 1000)


def test_combiners():
    surprises = np.array([[1.0, 3.0, 8.0], [2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(combine_surprises(surprises, "mean"), [4.0, 2.0])
    np.testing.assert_array_equal(combine_surprises(surprises, "max"), [8.0, 2.0])
    np.testing.assert_array_equal(combine_surprises(surprises, "median"), [3.0, 2.0])
    np.testing.assert_array_equal(combine_surprises(surprises, "second"), [3.0, 2.0])
    np.testing.assert_array_equal(combine_surprises(surprises[:, :1], "second"), [1.0, 2.0])
    with pytest.raises(EnsembleError, match="unknown combine 'vote'"):
        combine_surprises(surprises, "vote")


# --------------------------------------------------------------------------- the ensemble


def test_fit_returns_self_with_every_member_fitted(train):
    ensemble = Ensemble.from_names(FAST_MEMBERS)
    assert ensemble.fit(train) is ensemble
    assert list(ensemble.detectors_) == list(FAST_MEMBERS)
    assert all(d.is_fitted for d in ensemble.detectors_.values())
    assert set(ensemble.fit_seconds_) == set(FAST_MEMBERS)


def test_members_share_the_held_out_calibration_rows(ensemble):
    sizes = {d.calibration_scores_.size for d in ensemble.detectors_.values()}
    assert sizes == {ensemble.calibration_scores_.size} == {600}


def test_contributions_keep_each_member_per_event(ensemble):
    rows = normal_features(10, seed=6)
    rows.index = [f"e{i}" for i in range(10)]
    contributions = ensemble.contributions(rows)
    assert list(contributions.columns) == list(FAST_MEMBERS)
    assert list(contributions.index) == list(rows.index)
    assert (contributions.to_numpy() >= 0).all()


def test_a_day_of_several_chunks_gets_each_members_own_surprises(ensemble, monkeypatch):
    from ztad.detection import ensemble as module
    from ztad.detection.detectors.base import SCORE_CHUNK_ROWS

    rows = pd.concat([normal_features(4000, seed=6), far_anomalies(40, seed=7)]).to_numpy()
    day = np.tile(rows, (2 * SCORE_CHUNK_ROWS // len(rows) + 1, 1))[: 2 * SCORE_CHUNK_ROWS + 1001]
    parts = []
    run_in_parts = module.run_in_parts
    monkeypatch.setattr(module, "run_in_parts", lambda n, part, work: parts.append(part) or run_in_parts(n, part, work))
    surprises = ensemble.member_surprises(day)
    assert parts == [SCORE_CHUNK_ROWS]
    for name, detector in ensemble.detectors_.items():
        np.testing.assert_array_equal(surprises[name], surprise(detector.score_samples(day), detector.reference_scores_))
    ensemble.member_surprises(day[: 2 * SCORE_CHUNK_ROWS - 1])  # fewer rows: member by member
    assert parts == [SCORE_CHUNK_ROWS]


def test_default_combination_takes_the_rarity_two_members_agree_on(ensemble):
    rows = normal_features(10, seed=6)
    assert ensemble.combine == "second"
    contributions = ensemble.contributions(rows).to_numpy()
    np.testing.assert_allclose(ensemble.score_samples(rows), np.sort(contributions, axis=1)[:, -2])


def test_one_member_alone_cannot_raise_the_score(ensemble):
    contributions = pd.DataFrame([[0.1, 0.2, 50.0]], columns=["a", "b", "c"])
    assert ensemble.combined(contributions)[0] == pytest.approx(0.2)
    contributions = pd.DataFrame([[0.1, 40.0, 50.0]], columns=["a", "b", "c"])
    assert ensemble.combined(contributions)[0] == pytest.approx(40.0)


def test_mean_combination_averages_the_surprises(mean_ensemble):
    rows = normal_features(10, seed=6)
    np.testing.assert_allclose(
        mean_ensemble.score_samples(rows), mean_ensemble.contributions(rows).mean(axis=1).to_numpy()
    )


def test_each_combination_is_calibrated_on_its_own_scores(ensemble, mean_ensemble):
    assert ensemble.threshold_ != mean_ensemble.threshold_
    for model in (ensemble, mean_ensemble):
        assert (model.calibration_scores_ > model.threshold_).mean() <= model.target_fpr


def test_anomalies_score_above_the_threshold(ensemble):
    assert (ensemble.predict(far_anomalies(12, seed=3)) == 1).all()


def test_threshold_holds_the_budget_on_new_normal_rows(ensemble):
    rate = ensemble.predict(normal_features(5000, seed=2)).mean()
    assert 0.004 <= rate <= 0.025  # target 1 %, calibrated on 600 rows


def test_same_seed_same_scores(ensemble, train):
    again = Ensemble.from_names(FAST_MEMBERS, target_fpr=0.01, random_state=4).fit(train)
    rows = normal_features(500, seed=6)
    np.testing.assert_array_equal(again.score_samples(rows), ensemble.score_samples(rows))


def test_fitting_leaves_the_given_detectors_untouched(train):
    member = make_detector("ecod")
    Ensemble([member]).fit(train)
    assert not member.is_fitted


def test_other_features_are_refused(ensemble):
    rows = normal_features(10, seed=6).rename(columns={"count": "events"})
    with pytest.raises(FeatureMismatchError, match="missing \\['count'\\]"):
        ensemble.score_samples(rows)


def test_unfitted_ensemble_refuses_to_score(train):
    with pytest.raises(NotFittedError):
        Ensemble.from_names(FAST_MEMBERS).score_samples(train)


def test_repeated_member_names_are_refused(train):
    with pytest.raises(EnsembleError, match="repeated: \\['ecod'\\]"):
        Ensemble([make_detector("ecod"), make_detector("ecod")]).fit(train)


def test_parameters_for_a_non_member_are_refused():
    with pytest.raises(EnsembleError, match="\\['autoencoder'\\], which are not members"):
        Ensemble.from_names(FAST_MEMBERS, params={"autoencoder": {"epochs": 1}})


def test_feature_contributions_come_from_members_that_decompose(ensemble):
    rows = normal_features(4, seed=6)
    parts = ensemble.feature_contributions(rows)
    assert set(parts) == {"ecod"}
    assert parts["ecod"].shape == (4, 6)


def test_default_members_include_the_three_required_detectors():
    assert {"isolation_forest", "ocsvm", "autoencoder"} <= set(DEFAULT_MEMBERS)
    assert [d.name for d in Ensemble()._members()] == list(DEFAULT_MEMBERS)


def test_save_then_load_gives_identical_scores_with_every_default_member(train, tmp_path):
    params = {"autoencoder": FAST_PARAMS["autoencoder"], "isolation_forest": {"n_estimators": 50}}
    ensemble = Ensemble.from_names(DEFAULT_MEMBERS, params=params).fit(train)
    ensemble.save(tmp_path / "model")
    loaded = Ensemble.load(VerifiedArtifacts(tmp_path / "model", "test"))
    rows = pd.concat([normal_features(500, seed=6), far_anomalies(5, seed=3)], ignore_index=True)
    pd.testing.assert_frame_equal(loaded.contributions(rows), ensemble.contributions(rows))
    assert loaded.threshold_ == ensemble.threshold_
    assert loaded.get_params() == ensemble.get_params()
    assert loaded.drift_reference_.to_dict() == ensemble.drift_reference_.to_dict()


def test_loading_a_folder_that_is_not_an_ensemble_is_refused(tmp_path):
    with pytest.raises(EnsembleError, match="ensemble.json is missing"):
        Ensemble.load(VerifiedArtifacts(tmp_path, "test"))


def test_explicit_calibration_rows_are_held_out_from_every_member(train):
    recent = normal_features(400, seed=12)
    ensemble = Ensemble.from_names(FAST_MEMBERS).fit(train, calibration=recent)
    assert ensemble.calibration_scores_.size == 400
    np.testing.assert_array_equal(
        ensemble.detectors_["ecod"].calibration_scores_,
        ensemble.detectors_["ecod"].score_samples(recent),
    )
    assert ensemble.detectors_["ecod"].reference_.shape[0] == len(train)


def test_calibrate_holds_the_budget_on_recent_behaviour(train):
    ensemble = Ensemble.from_names(FAST_MEMBERS, target_fpr=0.01).fit(train)
    busier = normal_features(3000, seed=13).assign(count=lambda f: f["count"] + 3)
    assert ensemble.predict(busier).mean() > 0.05  # the fit-time threshold overspends
    assert ensemble.calibrate(busier.iloc[:2000]) is ensemble
    assert ensemble.predict(busier.iloc[2000:]).mean() <= 0.025


def test_surprise_stays_finite_far_beyond_every_normal_score():
    from ztad.detection.ensemble import surprise

    reference = np.sort(np.random.default_rng(0).normal(size=1000))
    far = surprise(np.array([0.0, 10.0, 1e6]), reference)
    assert np.isfinite(far).all()
    assert far[0] < far[1] < far[2]
