"""Daily aggregates, their persistence, and the point-in-time baseline built from them."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from tests.ztad.behaviour.features.sequences import DAY, frame, login, state_from, working_days
from ztad.behaviour.baselines import (
    AGGREGATE_VERSION,
    BaselineError,
    aggregate_dir,
    baseline_as_of,
    combine_aggregates,
    daily_aggregate,
    load_daily_aggregate,
    network_prefix,
    save_daily_aggregate,
)


def _day_events(d: date, user: str = "alice", **fields) -> pd.DataFrame:
    return frame(working_days(user, d, 1, **fields))


def _loader(events_by_day: dict[date, pd.DataFrame], asked: list[date] | None = None):
    def load(d: date) -> pd.DataFrame:
        if asked is not None:
            asked.append(d)
        if d not in events_by_day:
            raise FileNotFoundError(d)
        return events_by_day[d]

    return load


def _same_state(a, b) -> None:
    pd.testing.assert_frame_equal(a.users, b.users)
    assert list(a.user_index) == list(b.user_index)
    np.testing.assert_array_equal(a.hour_counts, b.hour_counts)
    for kind in a.pairs:
        np.testing.assert_array_equal(a.pairs[kind].keys, b.pairs[kind].keys)
        pd.testing.assert_frame_equal(a.pairs[kind].values, b.pairs[kind].values)


# --------------------------------------------------------------------------- one day


def test_daily_aggregate_counts_users_pairs_and_the_last_located_login():
    events = frame([
        login("alice", "2026-03-09 08:00", "Madrid, Spain", ip="192.0.2.1", resource="erp", nbytes=1000),
        login("alice", "2026-03-09 09:00", "Lagos, Nigeria", ip="192.0.2.2", success=False, resource="erp"),
        login("alice", "2026-03-09 10:00", None, ip="192.0.2.2"),
        login("bob", "2026-03-09 11:00", "London, UK", department="it", resource="git"),
    ])
    tables = daily_aggregate(events).tables
    users = tables["users"].set_index("user_id")
    assert users.loc["alice", "events"] == 3 and users.loc["alice", "failures"] == 1
    # Lagos failed and the 10:00 login has no place: the last successful located login is Madrid.
    assert users.loc["alice", "last_location"] == "Madrid, Spain"
    assert users.loc["bob", "department"] == "it"
    ips = tables["user_ip"].set_index(["user_id", "ip_address"])["count"]
    assert ips[("alice", "192.0.2.2")] == 2
    resources = tables["user_resource"].set_index(["user_id", "resource"])
    # Bytes statistics come from successful logins only.
    assert resources.loc[("alice", "erp"), "lb_count"] == 1
    assert resources.loc[("alice", "erp"), "lb_sum"] == pytest.approx(np.log1p(1000))
    assert set(tables["user_network"]["network"]) == {"192.0.0.0/16"}


def test_autonomous_systems_are_paired_with_users_and_counted_across_the_organisation():
    history = (working_days("alice", DAY - timedelta(days=3), 3, ip="192.0.2.1", asn=64500)
               + working_days("bob", DAY - timedelta(days=1), 1, ip="198.51.100.1", asn=64500)
               + working_days("carol", DAY - timedelta(days=1), 1, ip="198.51.100.2"))
    state = state_from(history)
    pairs = state.pairs["asn"]
    assert list(pairs.items) == ["64500"]
    alice, bob = state.user_codes(pd.Series(["alice", "bob"], dtype="string"))
    item = pairs.item_codes(pd.Series(["64500"], dtype="string"))
    assert pairs.get("days", pairs.find([alice, bob], np.repeat(item, 2))).tolist() == [3.0, 1.0]
    assert state.org_items["asn"]["users"].tolist() == [2.0]  # carol's address has no known system


def test_events_without_an_address_count_for_the_user_but_pair_with_no_address():
    events = frame([login("dc-user", "2026-03-09 08:00", None, ip=None, success=False),
                    login("dc-user", "2026-03-09 08:01", None, ip=None, success=False),
                    login("dc-user", "2026-03-09 09:00", None, ip="192.0.2.1")])
    tables = daily_aggregate(events).tables
    users = tables["users"].set_index("user_id")
    assert users.loc["dc-user", "events"] == 3 and users.loc["dc-user", "failures"] == 2
    assert tables["user_ip"]["ip_address"].tolist() == ["192.0.2.1"]
    assert tables["user_network"]["network"].tolist() == ["192.0.0.0/16"]
    assert tables["user_asn"].empty
    assert tables["user_device"]["count"].tolist() == [3]


def test_an_aggregate_saved_before_autonomous_systems_were_kept_still_combines(tmp_path):
    d = DAY - timedelta(days=1)
    save_daily_aggregate(daily_aggregate(_day_events(d, asn=64500)), tmp_path, d)
    folder = aggregate_dir(tmp_path, d)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "user_asn.parquet").unlink()
    (folder / "meta.json").write_text(json.dumps({**meta, "tables": [t for t in meta["tables"] if t != "user_asn"]}))
    state = baseline_as_of(tmp_path, DAY, 30, _loader({}))
    assert state.n_users == 1 and len(state.pairs["asn"].items) == 0


def test_hours_are_kept_in_the_local_time_of_the_place():
    # 09:00 UTC is 10:00 in Madrid in March, and a Monday.
    tables = daily_aggregate(frame([login("alice", "2026-03-09 09:00", "Madrid, Spain")])).tables
    assert tables["user_hour"]["how"].tolist() == [10]


def test_missing_column_and_empty_user_are_clear_errors():
    events = frame([login("alice", "2026-03-09 09:00")])
    with pytest.raises(BaselineError, match="resource"):
        daily_aggregate(events.drop(columns=["resource"]))
    events["user_id"] = pd.array([None], dtype="string")
    with pytest.raises(BaselineError, match="row 0: field user_id"):
        daily_aggregate(events)


def test_an_empty_day_aggregates_to_empty_tables():
    empty = daily_aggregate(frame([login("a", "2026-03-09 09:00")]).iloc[0:0])
    assert empty.events == 0
    assert all(len(t) == 0 for t in empty.tables.values())


# --------------------------------------------------------------------------- persistence


def test_save_then_load_gives_the_same_tables(tmp_path):
    agg = daily_aggregate(_day_events(date(2026, 3, 9)))
    path = save_daily_aggregate(agg, tmp_path, date(2026, 3, 9))
    assert path == aggregate_dir(tmp_path, date(2026, 3, 9))
    loaded = load_daily_aggregate(tmp_path, date(2026, 3, 9))
    for name, table in agg.tables.items():
        pd.testing.assert_frame_equal(loaded.tables[name], table)
    # Saving again replaces the day instead of piling up.
    save_daily_aggregate(daily_aggregate(_day_events(date(2026, 3, 9), "bob")), tmp_path, date(2026, 3, 9))
    assert load_daily_aggregate(tmp_path, date(2026, 3, 9)).tables["users"]["user_id"].tolist() == ["bob"]


def test_absent_or_outdated_aggregates_load_as_none(tmp_path):
    assert load_daily_aggregate(tmp_path, date(2026, 3, 9)) is None
    save_daily_aggregate(daily_aggregate(_day_events(date(2026, 3, 9))), tmp_path, date(2026, 3, 9))
    meta = aggregate_dir(tmp_path, date(2026, 3, 9)) / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "version": AGGREGATE_VERSION - 1}))
    assert load_daily_aggregate(tmp_path, date(2026, 3, 9)) is None


# --------------------------------------------------------------------------- point in time


def test_baseline_as_of_a_day_never_reads_that_day_or_later(tmp_path):
    days = {DAY + timedelta(days=k): _day_events(DAY + timedelta(days=k)) for k in range(-3, 3)}
    asked: list[date] = []
    state = baseline_as_of(tmp_path, DAY, 30, _loader(days, asked))
    assert asked and max(asked) < DAY
    assert state.users["last_day"].max() < DAY.toordinal()
    # Data arriving for DAY and later changes nothing about the state as of DAY.
    only_past = {d: e for d, e in days.items() if d < DAY}
    _same_state(state, baseline_as_of(tmp_path / "other", DAY, 30, _loader(only_past)))


def test_nightly_increments_equal_a_direct_build(tmp_path):
    days = {DAY + timedelta(days=k): _day_events(DAY + timedelta(days=k), hours=(8 + k % 3, 14)) for k in range(-5, 2)}
    nightly = tmp_path / "nightly"
    baseline_as_of(nightly, DAY, 30, _loader(days))
    # The job scores DAY, then saves that day's aggregate, then the next day's, ...
    for d in (DAY, DAY + timedelta(days=1)):
        save_daily_aggregate(daily_aggregate(days[d]), nightly, d)
    later = DAY + timedelta(days=2)
    incremental = baseline_as_of(nightly, later, 30, _loader({}))
    direct = baseline_as_of(tmp_path / "direct", later, 30, _loader(days))
    _same_state(incremental, direct)
    assert incremental.users["events"].iloc[0] == 2 * 7  # two logins on each of 7 days


def test_days_older_than_the_window_expire(tmp_path):
    old, recent = DAY - timedelta(days=40), DAY - timedelta(days=2)
    days = {old: _day_events(old, "olga"), recent: _day_events(recent, "rita")}
    assert list(baseline_as_of(tmp_path / "a", DAY, 30, _loader(days)).user_index) == ["rita"]
    assert list(baseline_as_of(tmp_path / "b", DAY, 45, _loader(days)).user_index) == ["olga", "rita"]


def test_days_without_data_are_skipped_and_not_saved(tmp_path):
    d = DAY - timedelta(days=1)
    state = baseline_as_of(tmp_path, DAY, 3, _loader({d: _day_events(d)}))
    assert state.days_with_data == 1
    assert not aggregate_dir(tmp_path, DAY - timedelta(days=2)).exists()
    assert aggregate_dir(tmp_path, d).exists()


def test_aggregates_of_the_day_itself_are_refused():
    agg = daily_aggregate(_day_events(DAY))
    with pytest.raises(BaselineError, match="cannot be part"):
        combine_aggregates([(DAY, agg)], DAY, 30)
    with pytest.raises(BaselineError, match="window_days"):
        baseline_as_of("unused", DAY, 0, _loader({}))


# --------------------------------------------------------------------------- combined state


def test_combined_state_knows_maturity_home_and_pairs():
    history = working_days("alice", DAY - timedelta(days=6), 6, location="Madrid, Spain")
    history += [login("alice", f"{DAY - timedelta(days=1)} 18:00", "Lagos, Nigeria", ip="198.51.100.7")]
    state = state_from(history)
    alice = state.users.iloc[state.user_codes(pd.Series(["alice"]))[0]]
    assert alice["active_days"] == 6 and alice["events"] == 19
    assert alice["home_location"] == "Madrid, Spain" and alice["home_tz"] == "Europe/Madrid"
    assert alice["last_location"] == "Lagos, Nigeria"
    city = state.pairs["city"]
    rows = city.find(state.user_codes(pd.Series(["alice", "alice", "bob"])),
                     city.item_codes(pd.Series(["Madrid, Spain", "Paris, France", "Madrid, Spain"])))
    assert city.values["days"].to_numpy()[rows[0]] == 6
    assert rows[1] == -1 and rows[2] == -1
    assert set(state.pairs["country"].items) == {"ES", "NG"}


def test_peer_groups_are_departments_when_known():
    history = (working_days("ann", DAY - timedelta(days=2), 2, department="finance")
               + working_days("ben", DAY - timedelta(days=2), 2, department="it"))
    state = state_from(history)
    assert list(state.peer_labels) == ["finance", "it"]
    assert state.peer_sizes.tolist() == [1, 1]


def test_without_departments_peer_groups_are_learned_from_resources_deterministically():
    first = DAY - timedelta(days=2)
    history = []
    for k in range(40):
        apps = ("erp", "ledger") if k < 20 else ("git", "ci")
        for app in apps:
            history += working_days(f"u{k:02d}", first, 2, hours=(9,), resource=app, department=None)
    state = state_from(history)
    groups = state.users["peer"].to_numpy()
    assert len(set(groups[:20])) == 1 and len(set(groups[20:])) == 1 and groups[0] != groups[20]
    assert all(label.startswith("resource group") for label in state.peer_labels)
    assert state_from(history).users["peer"].tolist() == groups.tolist()
    # A new user is placed with the users of the same resources.
    newcomer = frame([login("zed", f"{DAY} 09:00", resource="git", department=None)])
    assert state.peer_codes_for(newcomer, np.array([-1])).tolist() == [groups[20]]


def test_network_prefix_is_the_ipv4_16_or_ipv6_32():
    prefixes = network_prefix(pd.Series(["203.0.113.7", "2001:db8::1", None, "host-a"]))
    assert prefixes.tolist()[:2] == ["203.0.0.0/16", "2001:db8::/32"]
    assert pd.isna(prefixes[2]) and prefixes[3] == "host-a"
