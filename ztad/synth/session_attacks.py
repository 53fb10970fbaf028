"""Attacks on one account within a session, and their combinations.

Each kind is a :class:`SessionSpec`, so that a combination is simply a spec that takes the
when, where, which device, which application and how much of each of its parts:

* impossible travel: a login thousands of kilometres from the victim's own login of fifteen to
  ninety minutes before (or after), on the victim's device (a stolen session);
* off-hours login: the victim's laptop and home line, between 01:00 and 04:30 local time for a
  day worker (half a day away from the shift for others); only the hour is wrong;
* large data transfer: one to three accesses in the victim's own session moving 20 to 200 times
  their usual volume for the application (their bulkiest one, when combined with another kind);
* unusual resource access: applications that neither the victim nor anyone in their
  department uses;
* new device: account takeover from a machine the victim never used, from abroad, elsewhere
  in the country or through a proxy in the victim's city.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ztad.synth import catalogue as cat
from ztad.synth import events as ev
from ztad.synth.activity import VPN_DAY_KEY, home_line_spread, transfer_bytes
from ztad.synth.attack_plan import CAMPAIGN_KINDS, AttackPlan, campaign_label
from ztad.synth.attackers import (
    ELEVATED_FACTOR,
    DayContext,
    NewDevices,
    abroad_city,
    anchors,
    attacker_network,
    domestic_city,
    far_city,
    session_offsets,
)
from ztad.synth.networks import HOSTING, RESIDENTIAL, address, mix
from ztad.synth.organisation import Organisation
from ztad.synth.places import DAY_SECONDS, utc_offsets
from ztad.synth.sampling import choose_per_row, cumulative

#: An impossible-travel login comes this many minutes after (or before) the victim's own.
TRAVEL_GAP_MINUTES = (15, 90)
#: Huge transfers move this many times the victim's usual volume for the application, up to a
#: ceiling that keeps them plausible for a laptop session.
HUGE_FACTOR = (20.0, 200.0)
#: Off-hours logins of day workers fall in these local hours.
NIGHT_HOURS = (1.0, 4.5)
HUGE_CEILING_BYTES = 8e9
#: Seconds between the events of one session.
SESSION_GAP = (20, 360)


@dataclass(frozen=True)
class SessionSpec:
    """How a session attack is shaped.

    time: ``after_anchor`` | ``near_anchor`` | ``off_hours`` | ``any``;
    place: ``anchor`` | ``home`` | ``far`` | ``takeover``;
    device: ``anchor`` | ``laptop`` | ``new``;
    resource: ``usual`` | ``bulk`` | ``unusual``;
    volume: ``normal`` | ``elevated`` | ``huge``.
    """

    time: str
    place: str
    device: str
    resource: str
    volume: str


SESSION_SPECS: dict[str, SessionSpec] = {
    "impossible_travel": SessionSpec("after_anchor", "far", "anchor", "usual", "normal"),
    "off_hours_login": SessionSpec("off_hours", "home", "laptop", "usual", "normal"),
    "large_data_transfer": SessionSpec("near_anchor", "anchor", "anchor", "usual", "huge"),
    "unusual_resource_access": SessionSpec("near_anchor", "anchor", "anchor", "unusual", "normal"),
    "new_device": SessionSpec("any", "takeover", "new", "usual", "elevated"),
    "impossible_travel+large_data_transfer": SessionSpec("after_anchor", "far", "anchor", "bulk", "huge"),
    "impossible_travel+new_device": SessionSpec("after_anchor", "far", "new", "usual", "elevated"),
    "new_device+large_data_transfer": SessionSpec("any", "takeover", "new", "bulk", "huge"),
    "new_device+unusual_resource_access": SessionSpec("any", "takeover", "new", "unusual", "normal"),
    "off_hours_login+large_data_transfer": SessionSpec("off_hours", "home", "laptop", "bulk", "huge"),
    "off_hours_login+unusual_resource_access": SessionSpec("off_hours", "home", "laptop", "unusual", "normal"),
}


def _spec_table() -> dict[str, np.ndarray]:
    """Each :class:`SessionSpec` field as an array indexed by campaign kind ("" for kinds that
    are not session attacks)."""
    specs = [SESSION_SPECS.get(kind) for kind in CAMPAIGN_KINDS]
    return {
        name: np.array([getattr(spec, name) if spec else "" for spec in specs])
        for name in SessionSpec.__dataclass_fields__
    }


_SPEC_TABLE = _spec_table()
_CAMPAIGN_LABELS = np.array([campaign_label(k) for k in range(len(CAMPAIGN_KINDS))], dtype=np.int64)


def _session_starts(ctx: DayContext, spec_time: np.ndarray, victim, anchor_time, span) -> np.ndarray:
    """First second of each session, kept inside the day with room for the whole session."""
    rng, org = ctx.rng, ctx.org
    n = len(victim)
    gap = rng.integers(TRAVEL_GAP_MINUTES[0] * 60, TRAVEL_GAP_MINUTES[1] * 60 + 1, n)
    after = anchor_time + gap
    after = np.where(after + span >= ctx.start + DAY_SECONDS, anchor_time - gap - span, after)
    near = anchor_time + rng.integers(-1800, 1801, n)
    local = (org.shift_start[victim] + org.shift_hours[victim] / 2 + 12 + rng.uniform(-1.5, 1.5, n)) % 24
    local = np.where(org.profile[victim] == cat.DAY, rng.uniform(*NIGHT_HOURS, n), local)
    off = ctx.start + (local * 3600).astype(np.int64) - utc_offsets(ctx.day)[org.home[victim]]
    off = np.where(off < ctx.start, off + DAY_SECONDS, off)
    off = np.where(off >= ctx.start + DAY_SECONDS, off - DAY_SECONDS, off)
    anywhen = ctx.start + rng.integers(0, DAY_SECONDS, n)
    start = np.select([spec_time == "after_anchor", spec_time == "near_anchor", spec_time == "off_hours"],
                      [after, near, off], anywhen)
    return np.clip(start, ctx.start, ctx.start + DAY_SECONDS - 1 - span)


def _session_places(ctx: DayContext, spec_place, victim, anchor):
    """City, network kind and address pick of each session."""
    rng, org, hn, normal = ctx.rng, ctx.org, ctx.hn, ctx.normal
    n = len(victim)
    hosting_kind, fresh = attacker_network(n, 0.5, rng)
    # Home: the victim's own line (or their VPN, for VPN users).
    vpn = hn.vpn_egress[victim] >= 0
    home_city = np.where(vpn, hn.vpn_egress[victim], org.home[victim])
    home_kind = np.where(vpn, HOSTING, RESIDENTIAL)
    home_spread = np.where(vpn, mix(victim, ctx.day, VPN_DAY_KEY), home_line_spread(org, victim, ctx.day))
    # Takeover: abroad, elsewhere in the country, or the victim's city through a proxy.
    draw = rng.random(n)
    takeover_city = np.where(draw < 0.45, abroad_city(org.home[victim], rng),
                             np.where(draw < 0.75, domestic_city(org.home[victim], rng), org.home[victim]))
    takeover_kind = np.where(draw < 0.45, hosting_kind, RESIDENTIAL)
    city = np.select([spec_place == "anchor", spec_place == "home", spec_place == "far"],
                     [normal.city[anchor], home_city, far_city(normal.city[anchor], rng)], takeover_city)
    kind = np.select([spec_place == "home", spec_place == "far"], [home_kind, hosting_kind], takeover_kind)
    spread = np.where(spec_place == "home", home_spread, fresh)
    ip = np.where(spec_place == "anchor", normal.ip[anchor], address(city, kind, spread))
    return city, ip


def _unusual_resources(org: Organisation, victim: np.ndarray, campaign: np.ndarray, rng) -> np.ndarray:
    """Applications that neither the victim nor anyone in their department uses (sensitive or
    not: nothing tells the detector which ones are)."""
    personal = org.resource_weights[victim] == 0
    departmental = _unused_by_department(org)[org.department[victim]]
    allowed = personal & departmental
    allowed = np.where(allowed.any(axis=1, keepdims=True), allowed, personal)
    allowed = np.where(allowed.any(axis=1, keepdims=True), allowed, True)
    return choose_per_row(cumulative(allowed.astype(float)), campaign, rng.random(len(campaign)))


def _unused_by_department(org: Organisation) -> np.ndarray:
    """``(departments, resources)``: True where no member of the department uses the resource."""
    used = np.zeros((len(cat.DEPARTMENT_NAMES), len(cat.RESOURCES)), bool)
    np.logical_or.at(used, org.department, org.resource_weights > 0)
    return ~used


def _bulk_resource(org: Organisation, victim: np.ndarray) -> np.ndarray:
    """The victim's own application with the largest transfers (where exfiltration hides)."""
    used = org.resource_weights[victim] > 0
    return np.argmax(np.where(used, cat.RESOURCE_MEDIAN_BYTES[None, :], -1.0), axis=1)


def _huge_bytes(org: Organisation, users, resources, rng) -> np.ndarray:
    """Exfiltration-sized transfers: many times the user's usual for the application."""
    usual = cat.RESOURCE_MEDIAN_BYTES[resources] * org.bytes_factor[users]
    factor = rng.uniform(*HUGE_FACTOR, len(users))
    return np.minimum(usual * factor, HUGE_CEILING_BYTES).astype(np.int64)


def session_attacks(ctx: DayContext, plan: AttackPlan, rows: np.ndarray, devices: NewDevices) -> ev.EventArrays:
    """Session campaigns (all but brute force and spray) of the day."""
    rng, org, normal = ctx.rng, ctx.org, ctx.normal
    kinds = plan.kind[rows]
    anchor = anchors(ctx, len(rows))
    if len(anchor) == 0:
        return ev.EventArrays.empty()
    field = {name: table[kinds] for name, table in _SPEC_TABLE.items()}
    victim = normal.user[anchor]
    sizes = plan.size[rows]
    campaign, delay = session_offsets(sizes, SESSION_GAP, rng)
    span = delay[np.cumsum(sizes) - 1]
    start = _session_starts(ctx, field["time"], victim, normal.time[anchor], span)
    city, ip = _session_places(ctx, field["place"], victim, anchor)

    laptop = ctx.hn.laptop_on(org, ctx.day)[victim]
    device = np.select([field["device"] == "anchor", field["device"] == "laptop"],
                       [normal.device[anchor], laptop], -1)
    new = field["device"] == "new"
    device[new] = devices.add(int(new.sum()), rng)

    who = victim[campaign]
    resource = choose_per_row(org.resource_cum, who, rng.random(len(campaign)))
    resource = np.where(field["resource"][campaign] == "bulk", _bulk_resource(org, victim)[campaign], resource)
    unusual = field["resource"][campaign] == "unusual"
    resource[unusual] = _unusual_resources(org, victim, campaign[unusual], rng)

    scale = np.where(field["volume"] == "elevated", rng.uniform(*ELEVATED_FACTOR, len(rows)), 1.0)
    volume = transfer_bytes(org, who, resource, rng, scale=scale[campaign])
    huge = field["volume"][campaign] == "huge"
    volume[huge] = _huge_bytes(org, who[huge], resource[huge], rng)
    return ev.EventArrays(
        user=who, time=start[campaign] + delay, device=device[campaign], ip=ip[campaign],
        city=city[campaign], resource=resource, bytes=volume,
        success=np.ones(len(campaign), bool),
        label=_CAMPAIGN_LABELS[kinds][campaign],
        scenario=np.full(len(campaign), ev.NO_SCENARIO, dtype=np.int64),
        attack=rows[campaign].astype(np.int64),
    )
