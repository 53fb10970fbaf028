"""Public holidays and company days off, looked up for many events at once.

A login on a public holiday is, for most staff, a login on a day off. Holidays depend on the
country, so each event is looked up in the calendar of the country it comes from, through the
offline ``holidays`` package (no network access). Lookups run once per distinct
(country, local date) pair, never once per event.

Organisations differ: some work through public holidays, others close on days no calendar
knows (a year-end shutdown). Both are configuration
(:class:`ztad.behaviour.features.FeatureSettings`): ``public_holidays`` turns the country calendars on,
``company_holidays`` lists organisation-wide days off as ISO dates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa

from ztad.behaviour.baselines.arrays import few_texts


@lru_cache(maxsize=512)
def _country_calendar(country_code: str, year: int) -> dict[date, str]:
    """The public holidays of one country in one year; empty for a country the package lacks."""
    import holidays

    try:
        return dict(holidays.country_holidays(country_code, years=year))
    except NotImplementedError:
        return {}


def holiday_names(
    country_codes: pd.Series,
    local_dates: np.ndarray,
    *,
    public: bool,
    company_days: Iterable[str] = (),
) -> pd.Series:
    """The holiday each event falls on, or ``<NA>`` on an ordinary day.

    Parameters
    ----------
    country_codes
        ISO 3166 alpha-2 code of each event's country (``<NA>`` when the place is unknown:
        only company days off apply then).
    local_dates
        Each event's date in its local time, as days since 1970-01-01 (int).
    public
        Look up the public holidays of each event's country.
    company_days
        Organisation-wide days off, as ISO dates (``2026-12-24``).

    Returns
    -------
    pandas.Series
        String holiday names ("Good Friday", "company day off"), ``<NA>`` elsewhere.
    """
    n = len(local_dates)
    names = np.full(n, None, dtype=object)
    if n == 0:
        return pd.Series(names, dtype="string")
    company = {date.fromisoformat(str(day)).toordinal() - _EPOCH_ORDINAL for day in company_days}
    if company:
        names[np.isin(local_dates, list(company))] = "company day off"
    if public:
        names = _public_names(names, country_codes, local_dates)
    if n <= FEW_EVENTS:  # the texts given to Arrow as they are: pandas checks them one by one
        return pd.Series(pd.arrays.ArrowStringArray(pa.array(names.tolist(), pa.large_string())), copy=False)
    return pd.Series(names, dtype="string")


#: Up to this many events, the holidays are looked up one event at a time.
FEW_EVENTS = 64


def _public_names(names: np.ndarray, country_codes: pd.Series, local_dates: np.ndarray) -> np.ndarray:
    """``names`` with the public holiday of each event's country and date where it has none."""
    few = few_texts(country_codes) if len(names) <= FEW_EVENTS else None
    if few is not None:  # a few events, looked up one at a time: the frames cost more
        return np.array(
            [
                name if name is not None or country is None else _public_holiday(country, int(day))
                for name, country, day in zip(names.tolist(), few, np.asarray(local_dates).tolist())
            ],
            dtype=object,
        )
    pairs = pd.DataFrame({"country": country_codes.astype("string").to_numpy(), "day": local_dates})
    distinct = pairs.drop_duplicates().dropna()
    found = [_public_holiday(str(c), int(d)) for c, d in zip(distinct["country"], distinct["day"])]
    lookup = pd.Series(found, index=pd.MultiIndex.from_frame(distinct), dtype="object")
    public_names = lookup.reindex(pd.MultiIndex.from_frame(pairs)).to_numpy(dtype=object)
    names = np.where(pd.isna(names), public_names, names)
    return names


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _public_holiday(country_code: str, epoch_day: int) -> str | None:
    day = date.fromordinal(epoch_day + _EPOCH_ORDINAL)
    return _country_calendar(country_code.upper(), day.year).get(day)
