"""One day's events summarised into daily aggregates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.ztad.behaviour.features.sequences import frame, login
from ztad.behaviour.baselines import BaselineError, daily_aggregate


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


def test_a_day_aggregated_in_parts_of_users_is_the_whole_day_aggregate(small_logs):
    from datetime import date
    from itertools import pairwise

    from ztad.behaviour.baselines.daily import aggregate_of_parts
    from ztad.behaviour.features.user_parts import part_order
    from ztad.config import SourceConfig
    from ztad.ingest import load_day

    events = load_day(SourceConfig(root=str(small_logs)), date(2026, 3, 10)).events
    order, bounds = part_order(events["user_id"], 40)
    assert len(bounds) > 5
    parts = (events.iloc[order[begin:end]].reset_index(drop=True) for begin, end in pairwise(bounds))
    whole, in_parts = daily_aggregate(events).tables, aggregate_of_parts(parts).tables
    assert sorted(in_parts) == sorted(whole)
    for name, table in whole.items():
        pd.testing.assert_frame_equal(in_parts[name], table, check_exact=True, obj=name)
    # A user's last located login and latest department come from the user's own events.
    users = whole["users"]
    assert users["last_location"].notna().all() and (users["events"] > 1).sum() > 40


def test_a_day_of_no_parts_is_the_empty_aggregate():
    from ztad.behaviour.baselines.daily import DailyAggregate, aggregate_of_parts

    empty = aggregate_of_parts(iter([]))
    assert empty.events == 0 and sorted(empty.tables) == sorted(DailyAggregate.empty().tables)


def test_text_columns_are_nullable_text_missing_where_nothing_is_known():
    events = frame([
        login("carol", "2026-03-09 08:00", "Lagos, Nigeria", ip="192.0.2.9", success=False, resource="erp"),
        login("alice", "2026-03-09 09:00", "Madrid, Spain", ip="192.0.2.1", resource="git"),
        login("alice", "2026-03-09 10:00", "Madrid, Spain", ip="192.0.2.2", resource="erp"),
    ])
    tables = daily_aggregate(events).tables
    users = tables["users"]
    assert users["user_id"].tolist() == ["carol", "alice"]
    assert users["last_location"].isna().tolist() == [True, False]
    assert users["last_ip"].tolist()[1] == "192.0.2.2" and users["last_ip"].isna().tolist()[0]
    assert tables["user_resource"][["user_id", "resource"]].values.tolist() == [
        ["carol", "erp"], ["alice", "erp"], ["alice", "git"]]
    assert tables["user_hour"]["user_id"].tolist() == ["carol", "alice", "alice"]
    for name, table in tables.items():
        for column in ("user_id", "last_location", "last_ip", "ip_address", "resource"):
            if column in table:
                assert table[column].dtype == pd.StringDtype(), (name, column)
