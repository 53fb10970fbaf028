"""A login attempt's source: its address, else its workstation."""

from __future__ import annotations

import pandas as pd

from ztad.behaviour.attempt_source import attempt_sources, is_workstation


def test_the_address_wins_and_the_workstation_stands_in_for_a_missing_one():
    ips = pd.Series(["203.0.113.7", None, None], index=[10, 11, 12])
    devices = pd.Series(["ws001", "ws666", None], index=[10, 11, 12])
    sources = attempt_sources(ips, devices)
    assert sources.index.tolist() == [10, 11, 12]
    assert sources.iloc[:2].tolist() == ["203.0.113.7", "workstation ws666"] and pd.isna(sources.iloc[2])
    assert is_workstation(sources).tolist() == [False, True, False]


def test_without_devices_the_source_is_the_address_only():
    sources = attempt_sources(pd.Series(["198.51.100.1", None]))
    assert sources.iloc[0] == "198.51.100.1" and pd.isna(sources.iloc[1])


def test_a_frame_without_an_address_column_has_workstation_sources_only():
    from ztad.behaviour.attempt_source import sources_of

    sources = sources_of(pd.DataFrame({"device_id": ["ws001", None]}))
    assert sources.iloc[0] == "workstation ws001" and pd.isna(sources.iloc[1])
