"""Benchmark of ztad's detectors on the real behavioural features, trained as the pipeline trains.

Logs are written by ``ztad generate`` (or given with ``--logs``); the real pipeline
(``ztad.pipeline.run_range``) then runs every day from ``--cutoff`` on in a throwaway home, so
each scored day's features (``ztad.behaviour.features.FEATURE_NAMES``) are computed against the
baseline the job would have, and the days before the cut-off are history. Labels are read only
to measure.

Sections (``--section``, default all):

``quality``
    Each detector and the ensemble (every combination of ``ztad.detection.ensemble.COMBINERS``)
    trained once at the cut-off exactly as ``ztad.detection.training.train`` does: on the
    pipeline's training matrix (``ztad.pipeline.training_data.training_matrix``: the history
    days' feature rows, rows the model flagged kept out of fitting), with the last
    ``calibration_days`` held out to calibrate (``split_calibration``) at the alert budget
    (``budget_rate``); scored on every event of the scored days: ROC-AUC, PR-AUC, and the
    false-positive rate and recall at the calibrated threshold. Then the pipeline's own
    walk-forward decisions of the same days (the ``score_<member>`` surprises, the combined
    ``ensemble_score`` and ``model_flag`` it wrote, with the models it trained day by day).
``ocsvm``
    The exact RBF One-Class SVM against its approximations (exact on a 10,000-row subsample,
    which the detector uses beyond 10,000 rows, and Nystroem + SGD) on training matrices of
    growing size (rows sampled from the pipeline's, with replacement beyond it): fit and score
    time, ROC-AUC and PR-AUC on the scored days.
``training``
    Time to train the default ensemble on the pipeline's training matrix, and on that matrix
    resampled to the default row cap (``DetectionConfig.max_training_rows``), and to score the
    largest scored day.

Usage::

    .venv/bin/python bench/bench_detectors.py                     # 200 users, 28 days (minutes)
    .venv/bin/python bench/bench_detectors.py --section quality --users 100 --days 21
    .venv/bin/python bench/bench_detectors.py --logs ztad-home/demo/logs --cutoff 2026-03-16

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.detection.detectors import make_detector
from ztad.detection.ensemble import COMBINERS, Ensemble, combine_surprises
from ztad.detection.training import budget_rate, split_calibration


def _timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def _ranking(y, scores) -> tuple[float, float]:
    return roc_auc_score(y, scores), average_precision_score(y, scores)


# --------------------------------------------------------------------------- the real pipeline


class PipelineRun:
    """The pipeline run over the scored days: its training matrix at the cut-off, each scored
    event's features and label, and the pipeline's own scores of them."""

    def __init__(self, config: JobConfig, cutoff: date, days: list[date]):
        from ztad import pipeline
        from ztad.behaviour.features import FEATURE_NAMES
        from ztad.pipeline.training_data import training_matrix
        from ztad.pipeline.workfiles import read_parquet
        from ztad.schema import is_anomaly_label

        self.names = list(FEATURE_NAMES)
        self.config = config
        self.matrix = training_matrix(config, cutoff)
        features, scored = [], []
        for day in days:
            folder = pipeline.day_dir(config, day)
            features.append(read_parquet(folder / "features.parquet")[self.names].assign(day=day))
            scored.append(pipeline.scored_events(day, config))
        self.features = pd.concat(features, ignore_index=True)
        self.scored = pd.concat(scored, ignore_index=True)
        self.y = is_anomaly_label(self.scored["event_label"]).fillna(False).to_numpy(dtype=int)


def run_pipeline(logs: str, home: Path, cutoff: date, last: date, detection: DetectionConfig) -> PipelineRun:
    from ztad import pipeline

    config = JobConfig(source=SourceConfig(root=logs), home=home, detection=detection)
    days = [cutoff + timedelta(days=n) for n in range((last - cutoff).days + 1)]

    def progress(summary, done, total):
        print(f"  pipeline {summary.day}: {summary.rows_scored:,} scored, {summary.rows_flagged} flagged, "
              f"model {summary.model_action} ({done}/{total})", flush=True)

    _, seconds = _timed(lambda: pipeline.run_range(cutoff, last, config, progress=progress))
    print(f"  the pipeline scored {len(days)} days in {seconds:.0f} s")
    return PipelineRun(config, cutoff, days)


def fit_as_the_pipeline(matrix: pd.DataFrame, detection: DetectionConfig, seed: int) -> Ensemble:
    """The configured ensemble fitted on a training matrix as ``ztad.detection.training.train``
    fits one: calibration split, flagged rows out of fitting, the budget as a rate."""
    fit_rows, calibration_rows = split_calibration(matrix, detection.calibration_days)
    ensemble = Ensemble.from_names(detection.detectors, target_fpr=budget_rate(detection, matrix), random_state=seed)
    return ensemble.fit(fit_rows, calibration=calibration_rows)


# --------------------------------------------------------------------------- sections


def _line(name: str, y, scores, flagged=None, note: str = "") -> None:
    roc, pr = _ranking(y, scores)
    line = f"{name:34s} {roc:8.4f} {pr:8.4f}"
    if flagged is not None:
        normal = y == 0
        line += f" {flagged[normal].mean():8.4f} {flagged[~normal].mean():10.3f}"
    print(line + note)


def bench_quality(run: PipelineRun, seed: int) -> None:
    detection = run.config.detection
    fit_rows, calibration_rows = split_calibration(run.matrix, detection.calibration_days)
    flagged_out = int(run.matrix["flagged"].sum()) if "flagged" in run.matrix else 0
    print(f"\n== detection quality: trained once at the cut-off on the pipeline's training matrix "
          f"({len(run.matrix):,} rows of {run.matrix['training_day'].nunique()} days: {len(fit_rows):,} fit, "
          f"{0 if calibration_rows is None else len(calibration_rows):,} calibrate, {flagged_out} flagged kept out of "
          f"fitting); scored {len(run.features):,} events of {run.features['day'].nunique()} days, "
          f"{run.y.sum():,} anomalous (seed {seed})")
    ensemble, seconds = _timed(lambda: fit_as_the_pipeline(run.matrix, detection, seed))
    print(f"fit {seconds:.1f} s, per member {ensemble.fit_seconds_}")
    print(f"{'detector':34s} {'ROC-AUC':>8s} {'PR-AUC':>8s} {'FPR@thr':>8s} {'recall@thr':>10s}")
    X = run.features[run.names]
    for name, member in ensemble.detectors_.items():
        scores = member.score_samples(X)
        _line(name, run.y, scores, scores > member.threshold_, f"   (member target_fpr {member.target_fpr:.4f})")
    contributions = ensemble.contributions(X)
    for how in COMBINERS:
        scores = combine_surprises(contributions.to_numpy(), how)
        if how == ensemble.combine:
            _line(f"ensemble ({how})", run.y, scores, scores > ensemble.threshold_,
                  f"   (target_fpr {ensemble.target_fpr:.4f}) <- default")
        else:
            _line(f"ensemble ({how})", run.y, scores)
    print("-- the pipeline's own walk-forward scores of the same days (models it trained day by day)")
    scored = run.scored
    for column in [c for c in scored.columns if c.startswith("score_")]:
        _line(f"pipeline {column.removeprefix('score_')}", run.y, scored[column].to_numpy(float))
    _line("pipeline ensemble", run.y, scored["ensemble_score"].to_numpy(float), scored["model_flag"].to_numpy(bool))
    _line("pipeline final (with rules)", run.y, scored["score"].to_numpy(float), scored["flagged"].to_numpy(bool))


def _sample_matrix(run: PipelineRun, rows: int, seed: int) -> pd.DataFrame:
    """``rows`` feature rows of the pipeline's training matrix (sampled, with replacement
    beyond its size), unflagged ones only, as the detectors fit on."""
    fit_rows, _ = split_calibration(run.matrix, run.config.detection.calibration_days)
    return fit_rows.sample(n=rows, replace=rows > len(fit_rows), random_state=seed).reset_index(drop=True)


def bench_ocsvm(run: PipelineRun, seed: int, sizes: list[int], exact_limit: int) -> None:
    print(f"\n== One-Class SVM: exact RBF kernel vs approximations on the pipeline's training rows "
          f"(seed {seed}); score time per 100,000 rows of the scored days")
    variants = [
        ("exact", {"method": "exact"}),
        ("nystroem+sgd (300 comp.)", {"method": "nystroem"}),
        ("exact on 10k subsample", {"method": "subsample", "exact_max_rows": 10_000}),
    ]
    X = run.features[run.names]
    print(f"{'train rows':>10s} {'method':26s} {'fit s':>7s} {'score s':>8s} {'ROC-AUC':>8s} {'PR-AUC':>7s} {'SVs':>6s}")
    for size in sizes:
        train = _sample_matrix(run, size, seed)
        for label, params in variants:
            if params["method"] == "exact" and size > exact_limit:
                continue
            detector, fit_s = _timed(lambda p=params, t=train: make_detector("ocsvm", random_state=seed, **p).fit(t))
            scores, score_s = _timed(lambda d=detector: d.score_samples(X))
            roc, pr = _ranking(run.y, scores)
            vectors = getattr(detector.model_, "support_", np.empty(0)).size or "-"
            print(f"{size:10,d} {label:26s} {fit_s:7.2f} {score_s * 100_000 / len(X):8.2f} "
                  f"{roc:8.4f} {pr:7.4f} {vectors!s:>6s}", flush=True)


def bench_training(run: PipelineRun, seed: int) -> None:
    cap = DetectionConfig().max_training_rows
    day = run.features.loc[run.features["day"] == run.features["day"].value_counts().idxmax(), run.names]
    print(f"\n== training time: the default ensemble on the pipeline's training matrix, and on it "
          f"resampled to the row cap; scoring the largest scored day ({len(day):,} events)")
    for label, rows in (("pipeline's matrix", len(run.matrix)), (f"row cap ({cap:,})", cap)):
        matrix = run.matrix if rows == len(run.matrix) else run.matrix.sample(n=rows, replace=True, random_state=seed)
        ensemble, fit_s = _timed(lambda m=matrix: fit_as_the_pipeline(m.reset_index(drop=True), run.config.detection, seed))
        _, score_s = _timed(lambda e=ensemble: e.score_samples(day))
        members = ", ".join(f"{k} {v:.1f} s" for k, v in ensemble.fit_seconds_.items())
        epochs = ensemble.detectors_["autoencoder"].history_["epochs_run"]
        print(f"{label:24s} {rows:>9,} rows: fit {fit_s:6.1f} s ({members}; autoencoder {epochs} epochs); "
              f"score the day {score_s:.1f} s")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", choices=("all", "quality", "ocsvm", "training"), default="all")
    parser.add_argument("--logs", help="logs written by `ztad generate` (default: generate them)")
    parser.add_argument("--users", type=int, default=200, help="users of the generated logs")
    parser.add_argument("--days", type=int, default=28, help="days of the generated logs")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 2))
    parser.add_argument("--cutoff", type=date.fromisoformat, help="first scored day (default: start + 14 days)")
    parser.add_argument("--last", type=date.fromisoformat, help="last scored day (default: the logs' last)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ocsvm-sizes", type=int, nargs="+", default=[5_000, 10_000, 20_000, 50_000])
    parser.add_argument("--exact-limit", type=int, default=20_000)
    args = parser.parse_args(argv)
    from ztad.ingest import available_days

    with tempfile.TemporaryDirectory(prefix="ztad-bench-") as scratch:
        logs = args.logs
        if logs is None:
            from ztad.synth import generate

            print(f"generating {args.days} days of logs for {args.users} users (seed {args.seed})")
            logs = str(generate(Path(scratch) / "logs", start=args.start, days=args.days, users=args.users,
                                seed=args.seed).out_dir)
        days = available_days(SourceConfig(root=logs))
        cutoff = args.cutoff or days[0] + timedelta(days=14)
        last = args.last or days[-1]
        detection = replace(DetectionConfig(), seed=args.seed)
        print(f"running the pipeline over {cutoff}..{last} of {logs}")
        run = run_pipeline(logs, Path(scratch) / "home", cutoff, last, detection)
        if args.section in ("all", "quality"):
            bench_quality(run, args.seed)
        if args.section in ("all", "ocsvm"):
            bench_ocsvm(run, args.seed, args.ocsvm_sizes, args.exact_limit)
        if args.section in ("all", "training"):
            bench_training(run, args.seed)


if __name__ == "__main__":
    main()
