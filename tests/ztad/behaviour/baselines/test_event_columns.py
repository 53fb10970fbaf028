"""Values derived from the event columns baselines read: the network prefix and coordinates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.behaviour.baselines import event_coordinates, network_prefix
from ztad.behaviour.baselines.event_columns import coordinates_of


def test_network_prefix_is_the_ipv4_16_or_ipv6_32():
    prefixes = network_prefix(pd.Series(["203.0.113.7", "2001:db8::1", None, "host-a"]))
    assert prefixes.tolist()[:2] == ["203.0.0.0/16", "2001:db8::/32"]
    assert pd.isna(prefixes[2]) and prefixes[3] == "host-a"
    # Without any IPv6 address among them, the rest is read the same way.
    assert network_prefix(pd.Series(["10.1.2.3", None, "host-b"])).tolist()[::2] == ["10.1.0.0/16", "host-b"]


def test_network_prefix_reads_addresses_as_python_regular_expressions_did():
    odd = ["::1", "fe80::", ":b:c", "2001:db8", "1.2.3", "256.1.1.1x", "10.0.0.1\n", "1.2.3.4\n\n",
           "\u0661.\u0662.3.4"]
    assert network_prefix(pd.Series(odd)).tolist() == [
        "::/32", "fe80::/32", ":b::/32", "2001:db8::/32", "1.2.3", "256.1.1.1x", "10.0.0.0/16",
        "1.2.3.4\n\n", "\u0661.\u0662.0.0/16",
    ]


def test_network_prefix_keeps_the_index_and_a_repeated_address_reads_the_same():
    ips = pd.Series(["10.1.2.3", None, "10.1.9.9", "10.1.2.3"] * 3, index=range(100, 112))
    prefixes = network_prefix(ips)
    assert list(prefixes.index) == list(ips.index) and str(prefixes.dtype) == "string"
    assert prefixes.dropna().unique().tolist() == ["10.1.0.0/16"] and prefixes.isna().sum() == 3


def test_network_prefix_reads_ascii_only_addresses_as_it_reads_them_among_others():
    ascii_only = ["1.2.3", "256.1.1.1x", "10.0.0.1\n", "1.2.3.4\n\n", "203.0.113.7"]
    among_others = network_prefix(pd.Series([*ascii_only, "\u0661.\u0662.3.4"])).tolist()[:-1]
    assert network_prefix(pd.Series(ascii_only)).tolist() == among_others == [
        "1.2.3", "256.1.1.1x", "10.0.0.0/16", "1.2.3.4\n\n", "203.0.0.0/16",
    ]
    assert network_prefix(pd.Series(["\u0661.\u0662.3.4"])).tolist() == ["\u0661.\u0662.0.0/16"]


def test_network_prefix_of_a_few_addresses_is_read_as_among_many():
    odd = ["::1", "fe80::", ":b:c", "2001:db8", "1.2.3", "256.1.1.1x", "10.0.0.1\n", "1.2.3.4\n\n",
           "\u0661.\u0662.3.4", "1.2.3.4\r", ":", "a:b\n:c", "203.0.113.7", "2001:db8::1", None, "host-a"]
    many = network_prefix(pd.Series(odd * 5)).tolist()[: len(odd)]
    few = [network_prefix(pd.Series([value], dtype="string")).iloc[0] for value in odd]
    assert [None if pd.isna(v) else v for v in few] == [None if pd.isna(v) else v for v in many]
    assert few[:3] == ["::/32", "fe80::/32", ":b::/32"] and few[6] == "10.0.0.0/16"


def test_coordinates_of_many_events_are_the_event_coordinates_columns():
    # More events than the few-event path takes, with an unknown place, nulls and own coordinates.
    n = 120
    events = pd.DataFrame(
        {
            "location": pd.Series(["Madrid, Spain", None, "Lagos, Nigeria", "Nowhere, Atlantis"] * 30, dtype="string"),
            "latitude": np.where(np.arange(n) % 5 == 0, 10.5, np.nan),
            "longitude": np.where(np.arange(n) % 5 == 0, -3.25, np.nan),
        },
        index=range(1000, 1000 + n),
    )
    found = coordinates_of(events["location"], events["latitude"], events["longitude"])
    expected = event_coordinates(events)
    np.testing.assert_array_equal(found["lat"], expected["lat"].to_numpy())
    np.testing.assert_array_equal(found["lon"], expected["lon"].to_numpy())
    for name in ("country_code", "timezone"):
        pd.testing.assert_series_equal(found[name], expected[name])
