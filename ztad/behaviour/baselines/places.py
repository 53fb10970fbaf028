"""Places derived from the combined pairs: each user's home place and their countries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.behaviour.baselines.arrays import codes_in, take
from ztad.behaviour.baselines.pairs import PairStats, pair_stats
from ztad.ingest import gazetteer


def country_pairs(city: PairStats) -> PairStats:
    """User × country, from user × city (a country's ``days`` counts city-days)."""
    countries = gazetteer.resolve_places(pd.Series(city.items, dtype="string"))["country_code"]
    country_index = pd.Index(np.sort(countries.dropna().unique().to_numpy(dtype=object)), dtype="string")
    item_country = codes_in(country_index, countries)
    return pair_stats(
        city.owners(),
        item_country[city.item_of()] if len(city.keys) else np.array([], "int64"),
        country_index,
        {"count": city.values["count"].to_numpy("float64"), "days": city.values["days"].to_numpy("float64")},
        maxes={"last_day": city.values["last_day"].to_numpy("int64")},
        rows_as="places",
    )


def home_places(users: pd.DataFrame, city: PairStats) -> pd.DataFrame:
    """Each user's home: the city seen on the most days (then with the most events)."""
    n = len(users)
    owners = city.owners()
    days = city.values["days"].to_numpy("float64")
    counts = city.values["count"].to_numpy("float64")
    home_item = np.full(n, -1, dtype="int64")
    if len(owners):
        order = np.lexsort((-counts, -days, owners))
        first = np.r_[True, owners[order][1:] != owners[order][:-1]]
        home_item[owners[order][first]] = city.item_of()[order][first]
    names = np.asarray(city.items, dtype=object)
    location = pd.Series(take(names, home_item, None), dtype="string")
    places = gazetteer.resolve_places(location)
    return pd.DataFrame(
        {
            "home_location": location.to_numpy(),
            "home_lat": places["lat"].to_numpy(),
            "home_lon": places["lon"].to_numpy(),
            "home_tz": places["timezone"].to_numpy(),
        }
    ).astype({"home_location": "string", "home_tz": "string"})
