from datetime import timedelta

import numpy as np
import pandas as pd

from tests.ztad.synth.conftest import SETTINGS
from ztad.synth import OUTPUT_COLUMNS
from ztad.synth.table import clock_strings
from ztad.synth.world import day_frame


def test_columns_are_the_origin_format_plus_department_and_scenario(gen_world):
    frame = day_frame(gen_world, SETTINGS.start)
    assert list(frame.columns) == list(OUTPUT_COLUMNS) == [
        "timestamp", "user_id", "device_id", "ip_address", "location", "login_success",
        "access_time", "resource_accessed", "bytes_transferred", "event_label", "department", "scenario",
    ]
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame["login_success"].isin([0, 1]).all()
    assert frame["bytes_transferred"].dtype == np.int64 and (frame["bytes_transferred"] > 0).all()
    assert frame.notna().all().all()


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
