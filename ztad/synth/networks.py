"""The synthetic internet: which public IPv4 ranges belong to which city and kind of network.

Each city of the world map owns four /16 blocks: home broadband, mobile carrier, hosting (VPN
providers, cloud servers, hotels' uplinks) and, for office cities, corporate space whose
``x.y.1.10``-``x.y.1.17`` addresses are the office's NAT egress. The plan is fixed (it does not
depend on the generation seed), like real geography, and attackers draw from the very same
ranges as everybody else: an attacker's address may be new, but never of a special shape.

Addresses are handled as ``int64`` and formatted to dotted strings only once per distinct
address.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from ztad.synth.places import CITY_NAMES, OFFICES

#: First octets of ordinary public unicast space: no private, loopback, link-local, carrier
#: NAT, multicast or documentation ranges.
PUBLIC_FIRST_OCTETS: tuple[int, ...] = tuple(
    o for o in range(2, 224) if o not in {10, 100, 127, 169, 172, 192, 198, 203}
)
NETWORK_KINDS: tuple[str, ...] = ("residential", "mobile", "hosting", "corporate")
RESIDENTIAL, MOBILE, HOSTING, CORPORATE = range(len(NETWORK_KINDS))
#: Office NAT egress: x.y.1.10 to x.y.1.17.
OFFICE_EGRESS_HOSTS = 8
#: Hosting addresses of a city sit in the first /20 of its block (4,064 usable addresses).
HOSTING_SPAN = 16
_PLAN_SEED = 20260302
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@lru_cache(maxsize=1)
def block_bases() -> np.ndarray:
    """``(cities, kinds)`` array of the first address of each city's /16 block per network kind."""
    rng = np.random.default_rng(_PLAN_SEED)
    slots = np.array([(a << 8) | b for a in PUBLIC_FIRST_OCTETS for b in range(256)], dtype=np.int64)
    chosen = rng.choice(slots, size=len(CITY_NAMES) * len(NETWORK_KINDS), replace=False)
    bases = (chosen << 16).reshape(len(CITY_NAMES), len(NETWORK_KINDS))
    bases.setflags(write=False)
    return bases


def mix(*keys) -> np.ndarray:
    """A well-spread 64-bit hash of integer keys (splitmix64 rounds), vectorised.

    Used where a value must stay the same whenever the same keys come back (a user's home
    address for a week, the day's mobile address), independently of any random stream.
    """
    arrays = np.broadcast_arrays(*[np.asarray(k, dtype=np.int64) for k in keys])
    state = np.zeros(arrays[0].shape, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for key in arrays:
            state = state ^ key.astype(np.uint64)
            state = state + np.uint64(0x9E3779B97F4A7C15)
            z = state
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            state = (z ^ (z >> np.uint64(31))) & _MASK64
    return state


def _host(spread: np.ndarray, blocks_of_256: int) -> np.ndarray:
    """Offset of a usable host (last octet 1..254) inside ``blocks_of_256`` consecutive /24s."""
    slot = (spread % np.uint64(blocks_of_256 * 254)).astype(np.int64)
    return (slot // 254) * 256 + slot % 254 + 1


def address(cities, kinds, spread) -> np.ndarray:
    """Addresses of network ``kinds`` in the blocks of ``cities``, picked by 64-bit ``spread``.

    All three arguments broadcast against each other; ``kinds`` uses the positions of
    :data:`NETWORK_KINDS`. Corporate addresses are the office's NAT egress pool.
    """
    cities, kinds = np.broadcast_arrays(np.asarray(cities, dtype=np.int64), np.asarray(kinds, dtype=np.int64))
    spread = np.broadcast_to(np.asarray(spread, dtype=np.uint64), cities.shape)
    egress = 256 + 10 + (spread % np.uint64(OFFICE_EGRESS_HOSTS)).astype(np.int64)
    host = np.select(
        [kinds == CORPORATE, kinds == HOSTING],
        [egress, _host(spread, HOSTING_SPAN)],
        _host(spread, 256),
    )
    return block_bases()[cities, kinds] + host


def format_ipv4(addresses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dotted-quad strings for integer addresses, formatted once per distinct address.

    Returns
    -------
    codes, strings
        ``strings[codes]`` is the dotted form of every input address.
    """
    uniques, codes = np.unique(np.asarray(addresses, dtype=np.int64), return_inverse=True)
    octets = [pd.Series((uniques >> shift) & 255).astype(str) for shift in (24, 16, 8, 0)]
    dotted = octets[0] + "." + octets[1] + "." + octets[2] + "." + octets[3]
    return codes.astype(np.int64), dotted.to_numpy(dtype=object)


def network_table() -> pd.DataFrame:
    """The address plan as rows of ``network`` (CIDR), ``location`` and ``kind``.

    Lets a GeoIP database or an allow-list of corporate networks be built for generated logs.
    Corporate blocks are listed for office cities only.
    """
    bases = block_bases()
    cities = np.repeat(np.arange(len(CITY_NAMES)), len(NETWORK_KINDS))
    kinds = np.tile(np.arange(len(NETWORK_KINDS)), len(CITY_NAMES))
    keep = (kinds != CORPORATE) | np.isin(cities, OFFICES)
    codes, dotted = format_ipv4(bases.ravel()[keep])
    return pd.DataFrame({
        "network": pd.Series(dotted[codes]).astype("string") + "/16",
        "location": pd.Series(CITY_NAMES[cities[keep]]).astype("string"),
        "kind": pd.Series(np.array(NETWORK_KINDS, dtype=object)[kinds[keep]]).astype("string"),
    })
