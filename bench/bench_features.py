"""Time the nightly baseline update and feature computation for a large day.

Builds an organisation with ``ztad generate`` (or, with ``--source synthetic``, a simple
vectorised one: users with home cities, departments, devices, home and office IPs, work hours
and per-resource transfer sizes), saves the daily aggregates of a history window, then times,
for one scored day:

1. ``daily_aggregate`` of the day (what the nightly run adds to the state);
2. ``baseline_as_of`` (combining the window's saved aggregates);
3. ``compute_features`` for every event of the day;
4. ``evaluate_rules`` and ``explain`` for 0.5 % of the events (rule hits and injected
   attacks first).

Usage::

    .venv/bin/python bench/bench_features.py                  # ~1,000,000 events, 30-day window
    .venv/bin/python bench/bench_features.py --users 8000 --history-days 7
    .venv/bin/python bench/bench_features.py --source synthetic --events 1000000

Prints timings; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

CITIES = (
    ("Madrid, Spain", 1), ("London, UK", 0), ("Paris, France", 1), ("Berlin, Germany", 1),
    ("New York, USA", -5), ("Chicago, USA", -6), ("San Francisco, USA", -8), ("Toronto, Canada", -5),
    ("Sao Paulo, Brazil", -3), ("Mexico City, Mexico", -6), ("Mumbai, India", 5), ("Singapore, Singapore", 8),
    ("Tokyo, Japan", 9), ("Sydney, Australia", 11), ("Dubai, UAE", 4), ("Johannesburg, South Africa", 2),
    ("Warsaw, Poland", 1), ("Amsterdam, Netherlands", 1), ("Dublin, Ireland", 0), ("Stockholm, Sweden", 1),
)
DEPARTMENTS = ("finance", "engineering", "sales", "hr", "support", "marketing", "legal", "it")
RESOURCES_PER_DEPARTMENT = 6


def synthetic_day(day: date, n_events: int, n_users: int, seed: int = 7) -> pd.DataFrame:
    """Canonical events of one synthetic working day (fixed organisation, day-specific noise)."""
    from ztad.schema import conform

    org = np.random.default_rng(seed)
    home = org.integers(0, len(CITIES), n_users)
    department = org.integers(0, len(DEPARTMENTS), n_users)
    start_hour = org.uniform(7.0, 10.0, n_users)
    activity = org.gamma(2.0, 1.0, n_users)
    resource_scale = org.uniform(8.0, 14.0, len(DEPARTMENTS) * RESOURCES_PER_DEPARTMENT)

    rng = np.random.default_rng([seed, day.toordinal()])
    user = rng.choice(n_users, size=n_events, p=activity / activity.sum())
    offset_hours = np.array([c[1] for c in CITIES])[home[user]]
    local_hours = start_hour[user] + rng.uniform(0.0, 9.0, n_events)
    seconds = np.clip((local_hours - offset_hours) * 3600.0, 0, 86_399).astype("int64")
    midnight = pd.Timestamp(day, tz="UTC").value // 1000
    timestamps = pd.to_datetime(midnight + seconds * 1_000_000, unit="us", utc=True)
    resource = department[user] * RESOURCES_PER_DEPARTMENT + rng.integers(
        0, RESOURCES_PER_DEPARTMENT, n_events
    )
    at_office = rng.random(n_events) < 0.6
    user_names = np.array([f"u{u:06d}" for u in range(n_users)], dtype=object)
    city_names = np.array([c[0] for c in CITIES], dtype=object)
    home_ips = np.array(
        [f"10.{u // 65536}.{(u // 256) % 256}.{u % 256}" for u in range(n_users)], dtype=object
    )
    office_ips = np.array([f"198.51.{c}.1" for c in range(len(CITIES))], dtype=object)
    frame = pd.DataFrame(
        {
            "event_id": np.char.add(f"{day:%Y%m%d}-", np.arange(n_events).astype(str)),
            "timestamp": timestamps,
            "user_id": user_names[user],
            "device_id": np.char.add(
                user_names[user].astype(str), np.where(rng.random(n_events) < 0.8, "-laptop", "-phone")
            ),
            "ip_address": np.where(at_office, office_ips[home[user]], home_ips[user]),
            "location": city_names[home[user]],
            "department": np.array(DEPARTMENTS, dtype=object)[department[user]],
            "login_success": rng.random(n_events) > 0.03,
            "resource": np.char.add("app-", resource.astype(str)),
            "bytes_transferred": np.exp(
                resource_scale[resource] + rng.normal(0.0, 0.6, n_events)
            ).astype("int64"),
            "event_label": "normal",
            "source_row": np.arange(1, n_events + 1),
        }
    )
    return conform(frame)


def generated_days(first: date, days: int, users: int):
    """Canonical events of consecutive generated days (attacks after the first 80 %)."""
    from ztad.schema import conform
    from ztad.synth import GeneratorSettings, build_world, day_frame

    world = build_world(GeneratorSettings(first, days, users, seed=7, clean_days=int(days * 0.8)))

    def day_events(d: date) -> pd.DataFrame:
        frame = day_frame(world, d).rename(columns={"resource_accessed": "resource"})
        frame["login_success"] = frame["login_success"].astype(bool)
        frame["source_row"] = np.arange(1, len(frame) + 1)
        return conform(frame)

    return day_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=("generator", "synthetic"), default="generator")
    parser.add_argument("--users", type=int, default=None,
                        help="users (default: 76,000 generated, about 1M events on a weekday; "
                        "20,000 synthetic)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events per synthetic day")
    parser.add_argument("--history-days", type=int, default=30, help="baseline window in days")
    args = parser.parse_args()

    from ztad.behaviour.baselines import baseline_as_of, daily_aggregate, save_daily_aggregate
    from ztad.behaviour.features import compute_features
    from ztad.behaviour.rules import evaluate_rules
    from ztad.config import DetectionConfig
    from ztad.findings.sentences import explain

    scored_day = date(2026, 3, 4)  # a Wednesday
    first = scored_day - timedelta(days=args.history_days)
    if args.source == "generator":
        users = args.users or 76_000
        day_events = generated_days(first, args.history_days + 1, users)
        from ztad.synth.catalogue import SENSITIVE_RESOURCES as sensitive
    else:
        users = args.users or 20_000
        day_events = lambda d: synthetic_day(d, args.events, users)  # noqa: E731
        sensitive = ("app-3",)
    config = DetectionConfig(history_days=args.history_days, sensitive_resources=sensitive)

    with tempfile.TemporaryDirectory() as folder:
        state_dir = Path(folder)
        begin = time.perf_counter()
        for k in range(args.history_days, 0, -1):
            d = scored_day - timedelta(days=k)
            save_daily_aggregate(daily_aggregate(day_events(d)), state_dir, d)
        print(f"setup: {args.history_days} history days ({args.source}, {users:,} users) made and "
              f"aggregated in {time.perf_counter() - begin:.1f} s (not part of the nightly cost)")
        events = day_events(scored_day)
        timings = {}

        begin = time.perf_counter()
        save_daily_aggregate(daily_aggregate(events), state_dir, scored_day)
        timings["daily_aggregate + save (the day's update)"] = time.perf_counter() - begin

        def no_raw_history(_day):
            raise FileNotFoundError("every day in the window is aggregated already")

        begin = time.perf_counter()
        baseline = baseline_as_of(state_dir, scored_day, args.history_days, no_raw_history)
        timings["baseline_as_of (combine window)"] = time.perf_counter() - begin

        begin = time.perf_counter()
        features = compute_features(events, baseline, config)
        timings["compute_features"] = time.perf_counter() - begin

        begin = time.perf_counter()
        hits = evaluate_rules(features)
        timings["evaluate_rules"] = time.perf_counter() - begin

        flagged = _flag_half_a_percent(events, hits)
        begin = time.perf_counter()
        reasons = explain(events, features, hits, flagged)
        timings[f"explain ({flagged.sum():,} flagged rows)"] = time.perf_counter() - begin

    print(f"scored day {scored_day}: {len(events):,} events, window {args.history_days} days, "
          f"{baseline.n_users:,} users in the baseline")
    for name, seconds in timings.items():
        print(f"  {name:<45} {seconds:7.2f} s")
    nightly = sum(v for k, v in timings.items() if not k.startswith(("evaluate", "explain")))
    print(f"  {'baseline update + features':<45} {nightly:7.2f} s")
    print(f"  reasons per flagged row: {np.mean([len(r) for r in reasons]):.1f}; "
          f"rule hits: {int(hits.any(axis=1).sum()):,}")


def _flag_half_a_percent(events: pd.DataFrame, hits: pd.DataFrame) -> np.ndarray:
    """0.5 % of the rows: rule hits and labelled attacks first, then random others."""
    budget = len(events) // 200
    labels = events["event_label"].astype("string").fillna("normal")
    priority = hits.any(axis=1).to_numpy() | (labels != "normal").to_numpy()
    rng = np.random.default_rng(1)
    order = np.r_[rng.permutation(np.flatnonzero(priority)), rng.permutation(np.flatnonzero(~priority))]
    flagged = np.zeros(len(events), dtype=bool)
    flagged[order[:budget]] = True
    return flagged


if __name__ == "__main__":
    main()
