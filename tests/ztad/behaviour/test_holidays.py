"""Public holidays by country and company days off, looked up per distinct (country, day)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ztad.behaviour.holidays import holiday_names

EPOCH = date(1970, 1, 1).toordinal()


def _days(*days: date) -> np.ndarray:
    return np.array([d.toordinal() - EPOCH for d in days], dtype="int64")


def test_each_event_is_looked_up_in_its_own_countrys_calendar():
    days = _days(date(2026, 12, 25), date(2026, 7, 4), date(2026, 7, 4), date(2026, 7, 6))
    names = holiday_names(pd.Series(["GB", "US", "FR", "US"]), days, public=True)
    assert names[0] == "Christmas Day"
    assert names[1] == "Independence Day"
    assert names[2:].isna().all()


def test_unknown_places_and_countries_without_a_calendar_are_ordinary_days():
    days = _days(date(2026, 12, 25), date(2026, 12, 25))
    names = holiday_names(pd.Series([None, "ZZ"], dtype="string"), days, public=True)
    assert names.isna().all()


def test_public_holidays_are_off_unless_asked_for_and_company_days_always_apply():
    days = _days(date(2026, 12, 25), date(2026, 12, 31))
    countries = pd.Series(["DE", None], dtype="string")
    assert holiday_names(countries, days, public=False).isna().all()
    names = holiday_names(countries, days, public=False, company_days=["2026-12-31"])
    assert pd.isna(names[0]) and names[1] == "company day off"


def test_no_events_give_an_empty_series():
    assert holiday_names(pd.Series([], dtype="string"), np.array([], dtype="int64"), public=True).empty
