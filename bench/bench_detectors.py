"""Benchmark of ztad's detectors: detection quality, the One-Class SVM choice, training time.

Runs on a synthetic behavioural feature matrix shaped like ``ztad.behaviour.features`` output: 24 float64
columns, heavy-tailed counts and ratios beside 0/1 flags, with hard negatives (travel, new
laptops, new employees) among the normal rows. Anomalies are normal rows with the features of
one attack kind (or two) changed: impossible travel, off-hours login, repeated failures,
password spray, large transfer, unusual resource, new device.

Sections (``--section``, default all):

``quality``
    Each detector and the ensemble (every combination in ``ztad.detection.ensemble.COMBINERS``) trained
    on normal rows, scored on held-out normal rows plus 1 % anomalies: ROC-AUC, PR-AUC, and
    the false-positive rate at the calibrated threshold against the budget.
``ocsvm``
    The exact RBF One-Class SVM against its approximations (exact on a 10,000-row subsample,
    which the detector uses beyond 10,000 rows, and Nystroem + SGD) at training sizes where
    the exact kernel still runs: fit and score time, ROC-AUC and PR-AUC.
``generated``
    The same comparison on the behavioural features of logs written by ``ztad generate``
    (``--logs``; only with ``--section generated``): each day's features are computed against
    the baseline as of that day, the detectors train on the normal events of the days before
    ``--cutoff`` and are scored on the days from it. Also the false-positive rate on the
    scored days with the threshold calibrated on a random 20 % of the training days or on
    the last 3 training days.
``training``
    Time to train the default ensemble (all detectors) on 30 days of history of a 2,000-user
    organisation (30 x 2,000 x 10 = 600,000 rows), on the pipeline's default row cap and on
    every row, and to score one day (20,000 events).

Usage::

    .venv/bin/python bench/bench_detectors.py                 # synthetic sections (minutes)
    .venv/bin/python bench/bench_detectors.py --section ocsvm
    .venv/bin/ztad generate --out /tmp/logs --start 2026-03-02 --days 28 --users 200 --seed 3
    .venv/bin/python bench/bench_detectors.py --section generated --logs /tmp/logs \
        --cutoff 2026-03-16
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date, timedelta

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from ztad.config import DetectionConfig, SourceConfig
from ztad.detection.detectors import make_detector
from ztad.detection.ensemble import COMBINERS, DEFAULT_MEMBERS, Ensemble, combine_surprises

#: Most recent training days held out to calibrate on, in the generated-logs section.
RECENT_CALIBRATION_DAYS = 3

ATTACKS = (
    "impossible_travel",
    "off_hours_login",
    "multiple_failed_logins",
    "password_spray",
    "large_data_transfer",
    "unusual_resource_access",
    "new_device",
)


# --------------------------------------------------------------------------- synthetic features


def _flag(rng, n, rate):
    return (rng.random(n) < rate).astype(np.float64)


def normal_features(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` rows of normal behaviour, hard negatives included."""
    travel = rng.random(n) < 0.01
    distance = np.where(rng.random(n) < 0.1, rng.lognormal(3, 1.5, n), 0.0)
    distance = np.where(travel, rng.uniform(300, 3000, n), distance)
    hours = rng.uniform(1, 12, n)
    failed = rng.random(n) < 0.03
    columns = {
        "hour_rarity": rng.beta(1, 8, n),
        "off_hours": _flag(rng, n, 0.03),
        "weekend": _flag(rng, n, 0.06),
        "new_device": _flag(rng, n, 0.01),
        "new_ip": _flag(rng, n, 0.05),
        "new_location": np.where(travel, 1.0, _flag(rng, n, 0.005)),
        "new_country": np.where(travel & (rng.random(n) < 0.3), 1.0, 0.0),
        "distance_km": distance,
        "speed_kmh": np.where(
            travel, distance / np.maximum(hours, distance / 800), np.minimum(distance / hours, 100)
        ),
        "login_failed": failed.astype(np.float64),
        "user_failures_1h": rng.poisson(0.05, n) + failed,
        "ip_failures_1h": rng.poisson(0.1, n) + failed,
        "ip_failed_users_1h": np.minimum(rng.poisson(0.05, n) + failed, 3),
        "new_resource": _flag(rng, n, 0.02),
        "resource_rarity_user": rng.beta(1, 10, n),
        "resource_rarity_peers": rng.beta(1, 10, n),
        "sensitive_resource": _flag(rng, n, 0.05),
        "bytes_ratio_user": rng.lognormal(0, 0.6, n),
        "bytes_z_resource": rng.standard_t(4, n),
        "log_bytes": rng.normal(12, 1.5, n),
        "events_user_1h": rng.poisson(2, n) + 1.0,
        "events_user_day": rng.poisson(10, n) + 1.0,
        "distinct_ips_user_day": rng.poisson(0.3, n) + 1.0,
        "history_days": np.where(rng.random(n) < 0.03, rng.integers(0, 5, n), 30),
    }
    return pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in columns.items()})


def _attack(frame: pd.DataFrame, kind: str, rows: np.ndarray, rng: np.random.Generator) -> None:
    """Change the features of ``rows`` as attack ``kind`` would (in place)."""
    m = len(rows)

    def put(column, values):
        frame.loc[rows, column] = values

    if kind == "impossible_travel":
        distance = rng.uniform(1500, 12000, m)
        put("new_location", 1.0)
        put("new_country", _flag(rng, m, 0.7))
        put("distance_km", distance)
        put("speed_kmh", distance / rng.uniform(0.3, 1.5, m))
    elif kind == "off_hours_login":
        put("hour_rarity", rng.uniform(0.7, 1.0, m))
        put("off_hours", 1.0)
    elif kind == "multiple_failed_logins":
        put("login_failed", 1.0)
        put("user_failures_1h", rng.integers(4, 20, m).astype(np.float64))
    elif kind == "password_spray":
        users = rng.integers(8, 60, m).astype(np.float64)
        put("login_failed", 1.0)
        put("ip_failed_users_1h", users)
        put("ip_failures_1h", users * rng.uniform(1, 2, m))
    elif kind == "large_data_transfer":
        ratio = rng.lognormal(3, 1, m) + 8
        put("bytes_ratio_user", ratio)
        put("bytes_z_resource", rng.uniform(5, 40, m))
        put("log_bytes", frame.loc[rows, "log_bytes"].to_numpy() + np.log(ratio))
    elif kind == "unusual_resource_access":
        put("new_resource", 1.0)
        put("resource_rarity_user", rng.uniform(0.8, 1, m))
        put("resource_rarity_peers", rng.uniform(0.7, 1, m))
        put("sensitive_resource", _flag(rng, m, 0.6))
    elif kind == "new_device":
        put("new_device", 1.0)
        put("new_ip", 1.0)
        put("new_location", _flag(rng, m, 0.5))


def labelled_features(n_normal: int, n_anomalies: int, seed: int):
    """Normal rows then anomalies (20 % of them two attacks at once); returns X, y."""
    rng = np.random.default_rng(seed)
    anomalies = normal_features(n_anomalies, rng)
    first = rng.choice(ATTACKS, n_anomalies)
    second = np.where(rng.random(n_anomalies) < 0.2, rng.choice(ATTACKS, n_anomalies), "")
    for kind in ATTACKS:
        _attack(anomalies, kind, np.flatnonzero((first == kind) | (second == kind)), rng)
    X = pd.concat([normal_features(n_normal, rng), anomalies], ignore_index=True)
    y = np.r_[np.zeros(n_normal, dtype=int), np.ones(n_anomalies, dtype=int)]
    return X, y


# --------------------------------------------------------------------------- timing and ranking


def _timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def _ranking(y, scores) -> tuple[float, float]:
    return roc_auc_score(y, scores), average_precision_score(y, scores)


# --------------------------------------------------------------------------- sections


def _quality_table(ensemble: Ensemble, X, y) -> None:
    """Ranking and operating-point figures of every member and of every combination."""
    print(f"{'detector':28s} {'ROC-AUC':>8s} {'PR-AUC':>8s} {'FPR@thr':>8s} {'recall@thr':>10s}")
    normal = y == 0
    for name, member in ensemble.detectors_.items():
        scores = member.score_samples(X)
        roc, pr = _ranking(y, scores)
        flagged = scores > member.threshold_
        print(f"{name:28s} {roc:8.4f} {pr:8.4f} {flagged[normal].mean():8.4f} "
              f"{flagged[~normal].mean():10.3f}   (member target_fpr {member.target_fpr})")
    contributions = ensemble.contributions(X)
    for how in COMBINERS:
        scores = combine_surprises(contributions.to_numpy(), how)
        roc, pr = _ranking(y, scores)
        line = f"{'ensemble (' + how + ')':28s} {roc:8.4f} {pr:8.4f}"
        if how == ensemble.combine:
            flagged = scores > ensemble.threshold_
            line += f" {flagged[normal].mean():8.4f} {flagged[~normal].mean():10.3f}"
            line += f"   (target_fpr {ensemble.target_fpr}) <- default"
        print(line)


def _fit_default_ensemble(train: pd.DataFrame, seed: int) -> Ensemble:
    target_fpr = DetectionConfig().target_fpr
    members = Ensemble.from_names(DEFAULT_MEMBERS, target_fpr=target_fpr, random_state=seed)
    ensemble, fit_s = _timed(lambda: members.fit(train))
    print(f"ensemble fit {fit_s:.1f} s, per member {ensemble.fit_seconds_}")
    return ensemble


def bench_quality(seed: int, train_rows: int, test_rows: int) -> None:
    print(f"\n== detection quality: train {train_rows:,} normal rows, test {test_rows:,} normal "
          f"+ 1 % anomalies (seed {seed})")
    train = normal_features(train_rows, np.random.default_rng(seed))
    X, y = labelled_features(test_rows, test_rows // 100, seed + 1)
    _quality_table(_fit_default_ensemble(train, seed), X, y)


def events_of(source: SourceConfig, day: date) -> pd.DataFrame:
    """One day's canonical events (a missing day raises ``FileNotFoundError``)."""
    from ztad.ingest import load_day

    return load_day(source, day).events


def generated_features(logs: str, history_days: int) -> pd.DataFrame:
    """Features of every day of ``logs``, each against the baseline as of that day.

    Adds ``day`` and ``anomaly`` (from ``event_label``, for evaluation only) columns.
    """
    from ztad.behaviour.baselines import baseline_as_of
    from ztad.behaviour.features import FEATURE_NAMES, compute_features
    from ztad.ingest import available_days
    from ztad.schema import is_anomaly_label

    source = SourceConfig(root=logs)
    config = DetectionConfig(history_days=history_days)
    frames = []
    with tempfile.TemporaryDirectory(prefix="ztad-bench-") as state:
        for day in available_days(source):
            events = events_of(source, day)
            baseline = baseline_as_of(state, day, history_days, lambda d: events_of(source, d))
            features = compute_features(events, baseline, config)[list(FEATURE_NAMES)]
            features = features.reset_index(drop=True).assign(
                day=day, anomaly=is_anomaly_label(events["event_label"]).fillna(False).to_numpy()
            )
            frames.append(features)
    return pd.concat(frames, ignore_index=True)


def _budget_line(label: str, ensemble: Ensemble, test: pd.DataFrame, names, y) -> None:
    flagged = ensemble.predict(test[names]).astype(bool)
    normal = y == 0
    per_day = pd.Series(flagged[normal]).groupby(test["day"].to_numpy()[normal]).sum()
    print(f"{label:44s} FPR {flagged[normal].mean():.4f} (target {ensemble.target_fpr}), "
          f"recall {flagged[~normal].mean():.3f}, false alerts per day {per_day.mean():.1f}")


def bench_generated(logs: str, cutoff: date, seed: int, history_days: int) -> None:
    print(f"\n== detection quality on features of generated logs {logs}: train on normal events "
          f"before {cutoff}, score from {cutoff} (seed {seed})")
    frame, build_s = _timed(lambda: generated_features(logs, history_days))
    names = [c for c in frame.columns if c not in ("day", "anomaly")]
    before = frame["day"] < cutoff
    train = frame.loc[before & ~frame["anomaly"]]
    test = frame.loc[~before]
    y = test["anomaly"].to_numpy(dtype=int)
    print(f"{len(names)} features of {len(frame):,} events built in {build_s:.0f} s; train "
          f"{len(train):,} normal events, test {len(test):,} events with {y.sum():,} anomalies")
    ensemble = _fit_default_ensemble(train[names], seed)
    _quality_table(ensemble, test[names], y)
    print("-- alert budget on the scored days, by where the threshold was calibrated")
    _budget_line("random 20 % of the training days", ensemble, test, names, y)
    recent = train["day"] >= cutoff - timedelta(days=RECENT_CALIBRATION_DAYS)
    split = Ensemble.from_names(DEFAULT_MEMBERS, target_fpr=ensemble.target_fpr, random_state=seed)
    split.fit(train.loc[~recent, names], calibration=train.loc[recent, names])
    _budget_line(f"last {RECENT_CALIBRATION_DAYS} training days (held out)", split, test, names, y)


def bench_ocsvm(seed: int, sizes: list[int], exact_limit: int) -> None:
    print(f"\n== One-Class SVM: exact RBF kernel vs approximations (seed {seed}); score time "
          "per 100,000 rows")
    X, y = labelled_features(20_000, 200, seed + 1)
    variants = [
        ("exact", {"method": "exact"}),
        ("nystroem+sgd (300 comp.)", {"method": "nystroem"}),
        ("exact on 10k subsample", {"method": "subsample", "exact_max_rows": 10_000}),
    ]
    print(f"{'train rows':>10s} {'method':26s} {'fit s':>7s} {'score s':>8s} {'ROC-AUC':>8s} "
          f"{'PR-AUC':>7s} {'SVs':>6s}")
    for size in sizes:
        train = normal_features(size, np.random.default_rng(seed))
        for label, params in variants:
            if params["method"] == "exact" and size > exact_limit:
                continue
            detector, fit_s = _timed(
                lambda p=params: make_detector("ocsvm", random_state=seed, **p).fit(train)
            )
            scores, score_s = _timed(lambda d=detector: d.score_samples(X))
            roc, pr = _ranking(y, scores)
            vectors = getattr(detector.model_, "support_", np.empty(0)).size or "-"
            print(f"{size:10,d} {label:26s} {fit_s:7.2f} {score_s * 100_000 / len(X):8.2f} "
                  f"{roc:8.4f} {pr:7.4f} {vectors!s:>6s}", flush=True)


def bench_training(seed: int, users: int, days: int, events_per_user_day: int) -> None:
    rows = users * days * events_per_user_day
    cap = DetectionConfig().max_training_rows
    print(f"\n== training time: {days} days x {users:,} users x {events_per_user_day} events "
          f"= {rows:,} rows, {len(normal_features(1, np.random.default_rng(0)).columns)} features")
    history = normal_features(rows, np.random.default_rng(seed))
    day = normal_features(users * events_per_user_day, np.random.default_rng(seed + 1))
    for label, train in (
        (f"pipeline cap ({cap:,} rows)", history.sample(n=min(cap, rows), random_state=seed)),
        (f"every row ({rows:,})", history),
    ):
        ensemble, fit_s = _timed(lambda t=train: Ensemble.from_names(random_state=seed).fit(t))
        _, score_s = _timed(lambda e=ensemble: e.score_samples(day))
        members = ", ".join(f"{k} {v:.1f} s" for k, v in ensemble.fit_seconds_.items())
        epochs = ensemble.detectors_["autoencoder"].history_["epochs_run"]
        print(f"{label:28s} fit all detectors {fit_s:6.1f} s ({members}; autoencoder "
              f"{epochs} epochs); score one day ({len(day):,} events) {score_s:.1f} s")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--section", choices=("all", "quality", "ocsvm", "training", "generated"), default="all"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--train-rows", type=int, default=50_000)
    parser.add_argument("--test-rows", type=int, default=50_000)
    parser.add_argument(
        "--ocsvm-sizes", type=int, nargs="+", default=[5_000, 10_000, 20_000, 50_000]
    )
    parser.add_argument("--exact-limit", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--events-per-user-day", type=int, default=10)
    parser.add_argument("--logs", help="logs written by `ztad generate` (section generated)")
    parser.add_argument("--cutoff", type=date.fromisoformat, help="first scored day (generated)")
    parser.add_argument("--history-days", type=int, default=DetectionConfig().history_days)
    args = parser.parse_args(argv)
    if args.section in ("all", "quality"):
        bench_quality(args.seed, args.train_rows, args.test_rows)
    if args.section in ("all", "ocsvm"):
        bench_ocsvm(args.seed, args.ocsvm_sizes, args.exact_limit)
    if args.section in ("all", "training"):
        bench_training(args.seed, args.users, args.days, args.events_per_user_day)
    if args.section == "generated":
        if not args.logs or not args.cutoff:
            parser.error("--section generated needs --logs and --cutoff")
        bench_generated(args.logs, args.cutoff, args.seed, args.history_days)


if __name__ == "__main__":
    main()
