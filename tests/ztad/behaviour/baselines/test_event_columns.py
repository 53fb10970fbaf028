"""Values derived from the event columns baselines read: the network prefix."""

from __future__ import annotations

import pandas as pd

from ztad.behaviour.baselines import network_prefix


def test_network_prefix_is_the_ipv4_16_or_ipv6_32():
    prefixes = network_prefix(pd.Series(["203.0.113.7", "2001:db8::1", None, "host-a"]))
    assert prefixes.tolist()[:2] == ["203.0.0.0/16", "2001:db8::/32"]
    assert pd.isna(prefixes[2]) and prefixes[3] == "host-a"
    # Without any IPv6 address among them, the rest is read the same way.
    assert network_prefix(pd.Series(["10.1.2.3", None, "host-b"])).tolist()[::2] == ["10.1.0.0/16", "host-b"]
