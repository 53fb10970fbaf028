from datetime import timedelta

import numpy as np
import pandas as pd

from tests.ztad.synth.conftest import SETTINGS
from ztad.synth import OUTPUT_COLUMNS
from ztad.synth.table import attack_ids, clock_strings
from ztad.synth.world import day_frame


def test_columns_are_the_origin_format_plus_department_scenario_and_attack_id(gen_world):
    frame = day_frame(gen_world, SETTINGS.start)
    assert list(frame.columns) == list(OUTPUT_COLUMNS) == [
        "timestamp", "user_id", "device_id", "ip_address", "location", "login_success",
        "access_time", "resource_accessed", "bytes_transferred", "event_label", "department", "scenario",
        "attack_id",
    ]
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame["login_success"].isin([0, 1]).all()
    assert frame["bytes_transferred"].dtype == np.int64 and (frame["bytes_transferred"] > 0).all()
    assert frame.drop(columns="attack_id").notna().all().all()
    assert frame["attack_id"].isna().all()  # a clean day: no attack


def test_attack_ids_name_each_campaign_and_are_missing_on_normal_events():
    ids = attack_ids(np.array([-1, 7, 7, -1, 12, 3]))
    assert list(pd.Series(ids).astype(object).where(pd.notna(ids), None)) == [
        None, "attack-00007", "attack-00007", None, "attack-00012", "attack-00003"]
    assert attack_ids(np.array([-1, -1])).isna().all()


def test_access_time_is_the_utc_time_of_day_of_the_timestamp(gen_world):
    frame = day_frame(gen_world, SETTINGS.start + timedelta(days=2))
    expected = frame["timestamp"].dt.strftime("%H:%M:%S")
    assert (frame["access_time"].astype(str) == expected).all()


def test_clock_strings_cover_a_day():
    clock = clock_strings()
    assert len(clock) == 86400 and clock[0] == "00:00:00" and clock[3661] == "01:01:01"
    assert clock[-1] == "23:59:59"


def test_departments_are_those_of_the_users(gen_world):
    frame = day_frame(gen_world, SETTINGS.start)
    departments = frame.groupby("user_id", observed=True)["department"].nunique()
    assert (departments == 1).all()
    assert pd.Series(frame["user_id"].astype(str)).str.fullmatch(r"u\d{5}").all()
