import ipaddress

import numpy as np

from ztad.synth.networks import (
    CORPORATE,
    HOSTING,
    MOBILE,
    NETWORK_KINDS,
    RESIDENTIAL,
    address,
    block_bases,
    format_ipv4,
    mix,
    network_table,
)
from ztad.synth.places import CITY_NAMES, OFFICES


def test_every_block_is_distinct_ordinary_public_space():
    bases = block_bases().ravel()
    assert len(np.unique(bases >> 16)) == len(bases)
    for base in bases:
        network = ipaddress.ip_network((int(base), 16))
        assert network.is_global, network
        assert not network.overlaps(ipaddress.ip_network("203.0.113.0/24"))


def test_addresses_stay_in_their_citys_block_of_their_kind():
    rng = np.random.default_rng(0)
    spread = rng.integers(0, 1 << 62, 5000).astype(np.uint64)
    cities = rng.integers(0, len(CITY_NAMES), 5000)
    for kind in range(len(NETWORK_KINDS)):
        ips = address(cities, kind, spread)
        assert ((ips >> 16) == (block_bases()[cities, kind] >> 16)).all()
        assert ((ips & 255) >= 1).all() and ((ips & 255) <= 254).all()
    hosting = address(cities, HOSTING, spread)
    assert ((hosting >> 12) & 15 == 0).all()  # the first /20 of the block
    egress = address(cities, CORPORATE, spread)
    assert set(np.unique((egress >> 8) & 255)) == {1}
    assert set(np.unique(egress & 255)) <= set(range(10, 18))


def test_kinds_can_differ_per_address():
    ips = address([0, 0], [RESIDENTIAL, MOBILE], np.array([5, 5], dtype=np.uint64))
    assert (ips >> 16)[0] != (ips >> 16)[1]


def test_mix_is_repeatable_and_depends_on_every_key_and_order():
    assert mix(1, 2, 3) == mix(1, 2, 3)
    assert mix(1, 2, 3) != mix(1, 2, 4)
    assert mix(1, 2) != mix(2, 1)
    assert len(np.unique(mix(np.arange(10000), 7))) == 10000


def test_format_ipv4():
    codes, strings = format_ipv4(np.array([0x01020304, 0xC0A80001, 0x01020304]))
    assert list(strings[codes]) == ["1.2.3.4", "192.168.0.1", "1.2.3.4"]


def test_network_table_lists_corporate_space_of_offices_only():
    table = network_table()
    corporate = table[table["kind"] == "corporate"]
    assert set(corporate["location"]) == set(CITY_NAMES[OFFICES])
    assert len(table) == 3 * len(CITY_NAMES) + len(OFFICES)
    assert table["network"].str.endswith("/16").all()
