"""What explaining the flagged events adds to a night: a 1,000,000-event day, 0.5 % flagged.

Builds a large generated day (``ztad generate``'s world, about 76,000 users for a million
events on a weekday, attacks included) with its baseline window, computes its features, trains
the ensemble on a sample of the day's features and scores the day: all of that is setup, the
same with or without explanations. It then flags the top 0.5 % by the final score (rule hits
first, as the pipeline ranks them) and times what the pipeline does for those rows only:

1. ``attribution_table``: per-feature attributions of every member that decomposes its score
   (Isolation Forest: exact TreeSHAP for the highest-scored rows, path attributions for all;
   autoencoder reconstruction error; ECOD tail surprise);
2. ``explain``: the reason sentences;
3. ``build_findings`` + ``enrich_findings``: severity, category, top features with the user's
   baseline, attribution documents, incident ids;
4. ``build_incidents`` + ``user_risk``;
5. ``suppressed_mask`` with a 200-entry false-positive allowlist (the feedback check);
6. writing the findings, incidents and risk rows to a SQLite file (for scale; not an
   explanation cost).

Finally it compares the Isolation Forest path attributions with exact TreeSHAP
(``shap.TreeExplainer``) on a sample of flagged rows: time per row, extrapolated to all of
them, and how close the two are.

Usage::

    .venv/bin/python bench/bench_explain.py                       # 1,000,000 events, all members
    .venv/bin/python bench/bench_explain.py --users 8000 --history-days 3 --shap-rows 20

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

FLAG_RATE = 0.005


def _bench_features():
    """The day builders of ``bench/bench_features.py`` (same organisation and attacks)."""
    path = Path(__file__).with_name("bench_features.py")
    spec = importlib.util.spec_from_file_location("bench_features", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Clock:
    """Named wall-clock timings, printed in order."""

    def __init__(self):
        self.timings: dict[str, float] = {}

    def time(self, name: str, step):
        begin = time.perf_counter()
        out = step()
        self.timings[name] = time.perf_counter() - begin
        print(f"  {name:<58} {self.timings[name]:8.2f} s", flush=True)
        return out


def _day_with_features(args):
    """Events, features and rule hits of the scored day (setup)."""
    from ztad.behaviour.baselines import baseline_as_of, daily_aggregate, save_daily_aggregate
    from ztad.behaviour.features import compute_features
    from ztad.behaviour.rules import evaluate_rules
    from ztad.config import DetectionConfig
    from ztad.synth.catalogue import SENSITIVE_RESOURCES

    scored_day = date(2026, 3, 4)  # a Wednesday
    first = scored_day - timedelta(days=args.history_days)
    day_events = _bench_features().generated_days(first, args.history_days + 1, args.users)
    config = DetectionConfig(history_days=args.history_days, sensitive_resources=SENSITIVE_RESOURCES)
    with tempfile.TemporaryDirectory() as folder:
        for k in range(args.history_days, 0, -1):
            d = scored_day - timedelta(days=k)
            save_daily_aggregate(daily_aggregate(day_events(d)), folder, d)
        baseline = baseline_as_of(folder, scored_day, args.history_days, day_events)
    events = day_events(scored_day).reset_index(drop=True)
    # The generator's rows have no id; ingestion would give them a content hash.
    events["event_id"] = pd.array([f"{scored_day:%Y%m%d}-{i}" for i in range(len(events))], dtype="string")
    features = compute_features(events, baseline, config).reset_index(drop=True)
    return scored_day, config, events, features, evaluate_rules(features)


def _score(args, features, rule_hits):
    """Train on a sample of the day, score it and flag the top 0.5 % (setup)."""
    from ztad.behaviour.features import FEATURE_NAMES
    from ztad.detection.ensemble import Ensemble
    from ztad.detection.scoring_model import ScoringModel
    from ztad.pipeline import final_score

    sample = features[list(FEATURE_NAMES)].sample(n=min(args.training_rows, len(features)), random_state=0)
    ensemble = Ensemble.from_names(tuple(args.detectors.split(",")), random_state=0).fit(sample.reset_index(drop=True))
    model = ScoringModel(version="bench", ensemble=ensemble)
    scored = model.score(features)
    scored["rule_hit"] = rule_hits.any(axis=1).to_numpy()
    scored["score"] = final_score(scored["ensemble_score"], scored["rule_hit"], model.threshold)
    budget = int(round(len(features) * FLAG_RATE))
    flagged = np.zeros(len(features), dtype=bool)
    flagged[np.argsort(-scored["score"].to_numpy(), kind="stable")[:budget]] = True
    scored["flagged"] = flagged
    for code in rule_hits.columns:
        scored[f"rule_{code}"] = rule_hits[code].to_numpy()
    return model, scored, flagged


def _allowlist(events: pd.DataFrame, flagged: np.ndarray, entries: int) -> pd.DataFrame:
    """False-positive entries for users of flagged events (half of them matching)."""
    rows = np.flatnonzero(flagged)[:entries]
    users = events["user_id"].astype(str).to_numpy()[rows]
    values = events["location"].astype(str).to_numpy()[rows]
    values[::2] = "Nowhere, Atlantis"
    return pd.DataFrame(
        {"user_id": users, "kind": "location", "value": values, "valid_from": date(2026, 1, 1), "source_finding_id": "x"}
    )


def _explain_flagged(clock, day, config, events, features, rule_hits, model, scored, flagged):
    from ztad.feedback import suppressed_mask
    from ztad.findings.attributions import EXACT_SHAP_ROWS, attribution_table, exact_mask, split_table
    from ztad.findings.build import build_findings, enrich_findings
    from ztad.findings.incidents import build_incidents
    from ztad.findings.risk import user_risk
    from ztad.findings.sentences import explain
    from ztad.findings.typical import TypicalValues

    table = clock.time(
        f"attributions (exact TreeSHAP for the top {EXACT_SHAP_ROWS}, then path)",
        lambda: attribution_table(model.ensemble, features, flagged, priority=scored["score"].to_numpy()),
    )
    reasons = clock.time("reasons (explain)", lambda: explain(events, features, rule_hits, flagged))

    def findings_rows():
        rows = np.flatnonzero(flagged)
        frames = {m: f.reindex(rows, fill_value=0.0).reset_index(drop=True) for m, f in split_table(table).items()}
        exact = exact_mask(table).reindex(rows, fill_value=False).to_numpy(bool)
        findings = build_findings(
            day=day, events=events[flagged], scored=scored[flagged], reasons=reasons, model_version="bench", run_id="bench"
        )
        return enrich_findings(
            findings, events=events[flagged], features=features[flagged], scored=scored[flagged],
            rule_hits=rule_hits[flagged], attributions=frames, exact_shap=exact,
            sensitive_resources=config.sensitive_resources, typical=TypicalValues.of_frame(features),
        )

    findings = clock.time("findings rows: severity, top features, documents, incident", findings_rows)
    incidents = clock.time("incidents", lambda: build_incidents(findings, day, "bench"))
    risk = clock.time("user risk", lambda: user_risk(findings, day, "bench"))
    allowlist = _allowlist(events, flagged, 200)
    clock.time("feedback suppression check (200 allowlist entries)",
               lambda: suppressed_mask(events, features, rule_hits, flagged, allowlist))
    return table, findings, incidents, risk


def _write(clock, day, findings, incidents, risk) -> None:
    from ztad.store import FindingsStore, RunRecord

    with tempfile.TemporaryDirectory() as folder:
        with FindingsStore(f"sqlite:///{folder}/findings.db") as store:
            store.create_schema()
            run = RunRecord(run_id="bench", day=day, status="success")
            clock.time("write to SQLite (not an explanation cost)",
                       lambda: store.replace_day(run, findings, incidents=incidents, user_risk=risk))


def _compare_with_shap(model, features, flagged, sample_rows: int) -> None:
    """Exact TreeSHAP against the path attributions on a sample of flagged rows."""
    import shap

    from ztad.findings.attributions import (
        forest_as_shap_model,
        isolation_forest_attributions,
        isolation_forest_shap,
    )

    detector = model.ensemble.detectors_.get("isolation_forest")
    if detector is None:
        print("no isolation_forest member: SHAP comparison skipped")
        return
    forest = detector.model_
    names = list(model.ensemble.feature_names_in_)
    rows = np.flatnonzero(flagged)
    picked = np.random.default_rng(0).choice(rows, size=min(sample_rows, len(rows)), replace=False)
    X = features.iloc[picked][names].to_numpy(np.float64)
    begin = time.perf_counter()
    shap.TreeExplainer(forest)
    sklearn_setup = time.perf_counter() - begin
    begin = time.perf_counter()
    shap.TreeExplainer(forest_as_shap_model(forest))
    array_setup = time.perf_counter() - begin
    begin = time.perf_counter()
    exact = isolation_forest_shap(forest, X)
    per_row = (time.perf_counter() - begin) / len(picked)
    begin = time.perf_counter()
    path = isolation_forest_attributions(forest, X)
    path_per_row = (time.perf_counter() - begin) / len(picked)
    approximate = -shap.TreeExplainer(forest).shap_values(X, approximate=True)
    reference = -shap.TreeExplainer(forest).shap_values(X[:5], check_additivity=False)
    cosine = np.mean(np.sum(exact * path, axis=1) / (np.linalg.norm(exact, axis=1) * np.linalg.norm(path, axis=1)))
    in_top3 = np.mean([e in set(np.argsort(-p)[:3]) for e, p in zip(exact.argmax(axis=1), path)])
    print(f"Isolation Forest ({len(forest.estimators_)} trees), {len(picked)} flagged rows:")
    print(f"  TreeExplainer setup: {sklearn_setup:.1f} s from the sklearn forest, {array_setup:.2f} s from its arrays; "
          f"same values (max difference {np.abs(reference - exact[:5]).max():.1e})")
    print(f"  exact TreeSHAP {per_row:.3f} s per row -> {per_row * len(rows):,.0f} s for all {len(rows):,} flagged rows")
    print(f"  path attributions {path_per_row * 1000:.2f} ms per row, equal to shap's approximate=True "
          f"(max difference {np.abs(approximate - path).max():.1e})")
    print(f"  path vs exact: same top feature {np.mean(exact.argmax(1) == path.argmax(1)):.0%}, exact top feature "
          f"in the path top 3 {in_top3:.0%}, mean cosine {cosine:.2f}; features within half of the row's "
          f"largest exact value: {np.mean((exact > 0.5 * exact.max(axis=1, keepdims=True)).sum(axis=1)):.1f} on average")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=76_000, help="generated users (76,000: about 1M events)")
    parser.add_argument("--history-days", type=int, default=7, help="baseline window in days")
    parser.add_argument("--detectors", default="isolation_forest,ocsvm,autoencoder,ecod")
    parser.add_argument("--training-rows", type=int, default=100_000, help="rows the ensemble trains on")
    parser.add_argument("--shap-rows", type=int, default=100, help="flagged rows explained by exact TreeSHAP")
    args = parser.parse_args()

    setup = Clock()
    print("setup (not part of the explanation cost):")
    day, config, events, features, rule_hits = setup.time(
        f"{args.history_days}-day baseline and the day's features", lambda: _day_with_features(args)
    )
    model, scored, flagged = setup.time(f"train ({args.detectors}) and score", lambda: _score(args, features, rule_hits))
    print(f"day {day}: {len(events):,} events, {int(flagged.sum()):,} flagged ({FLAG_RATE:.1%}), "
          f"{int(rule_hits.any(axis=1).sum()):,} rule hits")

    clock = Clock()
    print("explanations of the flagged rows:")
    table, findings, incidents, risk = _explain_flagged(
        clock, day, config, events, features, rule_hits, model, scored, flagged
    )
    total = sum(clock.timings.values())
    print(f"  {'TOTAL added by explanations':<58} {total:8.2f} s")
    _write(setup, day, findings, incidents, risk)
    attacks = findings["event_label"].astype(str) != "normal"
    print(f"{len(findings):,} findings in {len(incidents):,} incidents "
          f"({len(findings) / max(len(incidents), 1):.1f} findings per incident); "
          f"{int(attacks.sum()):,} attack findings in {findings.loc[attacks, 'incident_id'].nunique():,} incidents; "
          f"{len(risk):,} users with a risk score")
    with_numbers = findings["reasons"].map(lambda rs: any(ch.isdigit() for r in rs for ch in r["text"]))
    print(f"findings with a reason quoting numbers: {with_numbers.mean():.1%}; "
          f"with top features: {findings['top_features'].map(bool).mean():.1%}")
    if args.shap_rows > 0:
        _compare_with_shap(model, features, flagged, args.shap_rows)


if __name__ == "__main__":
    main()
