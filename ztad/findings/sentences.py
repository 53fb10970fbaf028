"""Reasons for flagged events, as machine codes and sentences with the actual numbers.

Only flagged rows are explained (a small share of a day). For each kind of evidence a mask
over the flagged rows says where it applies and a sentence is built for those rows, e.g.
"first login from Lagos, Nigeria in 45 days of history; 3,830 km from Madrid, Spain 40 min
earlier (5,750 km/h)". Every flagged row gets at least one reason with numbers: when no
behavioural evidence stands out, the features that deviate most from the day's typical values
are quoted.

A background scanner's attempt is told as what it is, the day's noise ("one of 14 sources
scanning today: 6 failed attempts against 3 accounts (admin, root, test) in 2 min, none
succeeded"), instead of the failures, new address or new user it also is.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ztad.behaviour.attempt_source import sources_of
from ztad.behaviour.features import FEATURE_NAMES
from ztad.findings.collection import collector_paused
from ztad.findings.evidence import FlaggedRows, positional, rule_marks
from ztad.findings.typical import TypicalValues

_BYTES_BASELINE_WORDS = {
    "user_resource": "this user's usual for {resource}",
    "peer_resource": "the usual of peers in {group} for {resource}",
    "org_resource": "the organisation's usual for {resource}",
    "user": "this user's usual",
    "org": "the organisation's usual",
}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ExplainInputError(ValueError):
    """Events, features, rule hits and the flag mask do not describe the same rows."""


# --------------------------------------------------------------------------- number formats


def format_bytes(value: float) -> str:
    """``48213`` -> ``"47 KB"``; ``2.2e9`` -> ``"2.0 GB"`` (binary units)."""
    value = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit in ("B", "KB") else f"{value:,.1f} {unit}"
        value /= 1024.0
    return f"{value:,.1f} TB"


def format_minutes(minutes: float) -> str:
    """``40`` -> ``"40 min"``, ``190`` -> ``"3 h 10 min"``, ``4000`` -> ``"2.8 days"``."""
    minutes = float(minutes)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        hours, rest = divmod(int(round(minutes)), 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{minutes / 1440:.1f} days"


def format_clock(hour: float) -> str:
    """``3.2`` -> ``"03:12"``."""
    total = int(np.floor(float(hour) * 60 + 1e-6)) % (24 * 60)
    return f"{total // 60:02d}:{total % 60:02d}"


def _count(value: float, noun: str) -> str:
    """``1 user``, ``3 users``."""
    return f"{value:,.0f} {noun}" + ("" if round(value) == 1 else "s")


def format_ratio(ratio: float) -> str:
    """``48.3`` -> ``"48x"``, ``2.54`` -> ``"2.5x"``."""
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


# --------------------------------------------------------------------------- evidence


def _history_phrase(r: FlaggedRows) -> np.ndarray:
    days = r.finite("ctx_history_days").astype(int)
    return np.array([f"in {d} days of history" if d > 0 else "with no history" for d in days], dtype=object)


def _place_and_travel(r: FlaggedRows) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """New place and travel, in one sentence when both apply (the most telling pair)."""
    new_city = r.finite("city_novelty") >= 0.5
    new_country = r.finite("country_novelty") >= 0.5
    speed = r.finite("ctx_travel_kmh")
    distance = r.finite("ctx_travel_km")
    minutes, direction = r.num("ctx_travel_minutes"), r.finite("ctx_travel_direction")
    impossible = r.rule("impossible_travel")
    fast = impossible | ((speed > 900) & (distance >= 500))
    mask = new_city | fast
    locations, other = r.text("location"), r.text("ctx_travel_location")
    history = _history_phrase(r)
    texts, codes = np.full(len(mask), "", dtype=object), []
    for i in np.flatnonzero(mask):
        parts = []
        if new_city[i]:
            country = " (a country new for this user)" if new_country[i] else ""
            parts.append(f"first login from {locations[i]}{country} {history[i]}")
        if fast[i]:
            when = "later" if direction[i] > 0 else "earlier"
            parts.append(
                f"{distance[i]:,.0f} km from {other[i]} {format_minutes(minutes[i])} {when} "
                f"({speed[i]:,.0f} km/h)"
            )
        texts[i] = "; ".join(parts)
        codes.append("impossible_travel" if impossible[i] else ("travel" if fast[i] else "new_city"))
    return mask, texts[mask], codes


def _rare_place(r: FlaggedRows):
    peers = r.num("ctx_city_peer_users")
    org = r.finite("ctx_city_org_users")
    rare_peers = r.finite("city_rarity_peers") >= 1.0
    rare = rare_peers | (r.finite("city_rarity_org") >= 1.5)
    mask = rare & r.present("location")
    loc, group = r.text("location"), r.text("ctx_peer_group")
    texts = [
        (f"{loc[i]} was used by {peers[i]:.0f} peers in {group[i]} and {org[i]:.0f} users "
         "of the organisation in the baseline window")
        if not np.isnan(peers[i])
        else f"{loc[i]} was used by {org[i]:.0f} users of the organisation in the baseline window"
        for i in np.flatnonzero(mask)
    ]
    return mask, texts


def _off_hours(r: FlaggedRows):
    distance = r.finite("off_hours_distance")
    rarity = r.finite("hour_rarity")
    day_off = r.finite("day_off") >= 0.5
    mask = (distance >= 1.0) | (rarity >= 1.0) | day_off
    local, zone = r.num("ctx_local_hour"), r.text("ctx_timezone")
    start, end = r.num("ctx_usual_start"), r.num("ctx_usual_end")
    probability = r.num("ctx_hour_probability")
    weekend = r.finite("ctx_weekend") >= 0.5
    holiday = r.text("ctx_holiday")
    # Hours are "this user's" only when the user has logged in before (else they are a prior).
    has_history = np.nan_to_num(r.num("ctx_history_events"), nan=1.0) > 0
    texts = []
    for i in np.flatnonzero(mask):
        day = _day_off_words(weekend[i], holiday[i])
        sentence = f"login at {format_clock(local[i])} local time ({zone[i]}){day}"
        if not has_history[i]:
            sentence += "; the user has no earlier logins to compare its hour with"
        elif distance[i] >= 1.0 and not np.isnan(end[i]):
            sentence += (f"; this user's usual hours are {format_clock(start[i])}-{format_clock(end[i])}"
                         f" ({distance[i]:.1f} h outside)")
        else:
            sentence += f"; this hour of the week holds {probability[i]:.2%} of this user's expected logins"
        texts.append(sentence)
    return mask, texts


def _day_off_words(weekend: bool, holiday) -> str:
    """" on a weekend", " on a holiday (Good Friday)" or nothing."""
    if holiday not in ("", "unknown"):  # Rows.text fills a missing name with "unknown"
        return f" on a holiday ({holiday})"
    return " on a weekend" if weekend else ""


def _failures(r: FlaggedRows):
    count = r.finite("ctx_user_failures_10m")
    span = r.finite("ctx_burst_minutes")
    success = r.finite("login_failed") < 0.5
    mask = count >= 3
    ip = r.text("ctx_burst_ip")
    after_failures, brute_force = r.rule("success_after_failures"), r.rule("brute_force")
    texts = [
        f"{_count(count[i], 'failed login')} in {_count(max(span[i], 1), 'minute')} "
        + ("with no client address in the log" if ip[i] == "unknown" else f"from {ip[i]}")
        + (", then a success" if success[i] else "")
        for i in np.flatnonzero(mask)
    ]
    codes = ["success_after_failures" if after_failures[i]
             else "brute_force" if brute_force[i] else "failures" for i in np.flatnonzero(mask)]
    return mask, texts, codes


def _spray(r: FlaggedRows):
    users = r.finite("ctx_ip_failed_users_60m")
    attempts = r.finite("ctx_ip_failures_60m")
    mask = users >= 3
    source = sources_of(r.events).fillna("unknown").to_numpy(dtype=object)
    texts = [f"{source[i]} failed to log in as {users[i]:.0f} different users "
             f"({_count(attempts[i], 'attempt')}) within an hour" for i in np.flatnonzero(mask)]
    return mask, texts


def _new_device(r: FlaggedRows):
    mask = r.finite("device_novelty") >= 0.5
    device, known = r.text("device_id"), r.finite("ctx_user_devices")
    history = _history_phrase(r)
    texts = [f"first use of device {device[i]} {history[i]} (the user had {_count(known[i], 'known device')})"
             for i in np.flatnonzero(mask)]
    takeover = r.rule("new_device_new_place")
    codes = ["new_device_new_place" if takeover[i] else "new_device" for i in np.flatnonzero(mask)]
    return mask, texts, codes


def _new_ip(r: FlaggedRows):
    novelty = r.finite("ip_novelty") >= 0.5
    new_in_org = r.finite("ip_new_in_org") >= 0.5
    today = r.finite("ctx_ip_users_today")
    before = r.finite("ctx_ip_users_history")
    mask = novelty | (new_in_org & (today >= 3))
    ip = r.text("ip_address")
    texts = []
    for i in np.flatnonzero(mask):
        opening = f"first login from IP {ip[i]}" if novelty[i] else f"IP {ip[i]}"
        seen = ("never seen in the organisation before" if new_in_org[i]
                else f"used by {_count(before[i], 'user')} before")
        texts.append(f"{opening}, {seen}; it served {_count(today[i], 'user')} today")
    return mask, texts


def _resource(r: FlaggedRows):
    novelty = r.finite("resource_novelty") >= 0.5
    rare = r.finite("resource_rarity_peers") >= 1.0
    sensitive = r.finite("resource_sensitive") >= 0.5
    mask = (novelty | rare) & r.present("resource")
    resource, group = r.text("resource"), r.text("ctx_peer_group")
    users, size = r.finite("ctx_resource_group_users"), r.finite("ctx_group_size")
    texts = []
    for i in np.flatnonzero(mask):
        opening = "first access to" if novelty[i] else "access to"
        kind = "sensitive resource " if sensitive[i] else ""
        texts.append(f"{opening} {kind}{resource[i]}; "
                     f"used by {users[i]:.0f} of {size[i]:.0f} peers in {group[i]}")
    rare_sensitive, new_to_peers = r.rule("rare_sensitive_access"), r.rule("resource_new_to_peers")
    codes = ["rare_sensitive_access" if rare_sensitive[i]
             else "resource_new_to_peers" if new_to_peers[i]
             else "new_resource" if novelty[i] else "rare_resource" for i in np.flatnonzero(mask)]
    return mask, texts, codes


def _volume(r: FlaggedRows):
    ratio_log = r.finite("bytes_log_ratio")
    z = r.finite("bytes_z")
    mask = (ratio_log >= np.log10(5.0)) & (z >= 2.0)
    usual = r.num("ctx_usual_bytes")
    sent = pd.to_numeric(r.events["bytes_transferred"], errors="coerce").to_numpy("float64")
    baseline, group = r.text("ctx_bytes_baseline"), r.text("ctx_peer_group")
    resource = r.text("resource")
    texts = []
    for i in np.flatnonzero(mask):
        template = _BYTES_BASELINE_WORDS.get(baseline[i], "the usual")
        words = template.format(resource=resource[i], group=group[i])
        texts.append(f"bytes {format_ratio(10 ** ratio_log[i])} {words} "
                     f"({format_bytes(sent[i])} vs {format_bytes(usual[i])}, z = {z[i]:.1f})")
    rule = r.rule("large_transfer")
    codes = ["large_transfer" if rule[i] else "unusual_volume" for i in np.flatnonzero(mask)]
    return mask, texts, codes


def _many_logins(r: FlaggedRows):
    ratio = r.finite("logins_today_ratio")
    mask = ratio >= 2.0
    so_far, usual = r.finite("ctx_events_so_far"), r.finite("ctx_usual_daily_events")
    texts = [f"{so_far[i]:.0f} events so far today; usually {usual[i]:.0f} per day"
             for i in np.flatnonzero(mask)]
    return mask, texts


def _cold_start(r: FlaggedRows):
    maturity = r.num("ctx_maturity")
    mask = np.nan_to_num(maturity, nan=1.0) < 1.0
    group, history = r.text("ctx_peer_group"), _history_phrase(r)
    events = r.finite("ctx_history_events")
    texts = [
        f"new user ({history[i].removeprefix('in ')}, {events[i]:.0f} events), judged against "
        + (f"peers in {group[i]}" if group[i] != "unknown" else "the organisation")
        for i in np.flatnonzero(mask)
    ]
    return mask, texts


def _deviations(r: FlaggedRows, typical: pd.Series, spread: pd.Series, missing: np.ndarray):
    """Fallback: the two features furthest from the day's typical values, with both numbers.

    A yes/no flag against a yes/no typical value ("login_failed = 0.00 (typical today 1.00)"
    on a successful login among a day of failures) explains nothing and reads as the
    opposite, so flags are left out; without any other feature that stands out, the
    sentence says the models found the combination rare.
    """
    names = [n for n in FEATURE_NAMES if n in r.features.columns]
    values = r.features[names].to_numpy("float64")
    usual = typical[names].to_numpy()
    score = np.abs(values - usual) / spread[names].to_numpy()
    flags = np.isin(values, (0.0, 1.0)) & np.isin(usual, (0.0, 1.0))[None, :]
    score = np.where(flags | ~np.isfinite(score), -np.inf, score)
    rows = np.flatnonzero(missing)
    # Each row's two furthest features, sorted row by row as one sort of each row would.
    furthest = np.argsort(-score[rows], axis=1)[:, :2]
    picked = np.take_along_axis(score[rows], furthest, axis=1) > 0
    usual_of = dict(zip(names, typical[names].tolist()))
    texts = []
    for row, top, stands_out in zip(rows.tolist(), furthest.tolist(), picked.tolist()):
        texts.append("; ".join(
            f"{names[j]} = {values[row, j]:.2f} (typical today {usual_of[names[j]]:.2f})"
            for j, out in zip(top, stands_out) if out
        ) or "the models found this combination of features rare; no single feature stands out")
    return missing, texts


#: The rule that recognises the internet's background scanning, and the reason code it gives.
SCANNING_CODE = "background_scanning"
#: Accounts a scanning sentence names at most (the rest are counted).
MAX_SCANNED_NAMED = 3


def _scanning(
    events: pd.DataFrame, rule_hits: pd.DataFrame | None, rows: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Which of the flagged ``rows`` the ``background_scanning`` rule raised, and a sentence for
    each from the whole day's events of its address: how many addresses scanned today, its
    attempts, the accounts it tried and whether any got in."""
    if rule_hits is None or SCANNING_CODE not in rule_hits.columns:
        return np.zeros(len(rows), dtype=bool), []
    hit = rule_marks(rule_hits, SCANNING_CODE, len(rule_hits))
    if not hit[rows].any():  # no flagged row the rule raised: the day's addresses are not read
        return np.zeros(len(rows), dtype=bool), []
    ip = events["ip_address"].astype("string")
    mask = hit[rows] & ip.iloc[rows].notna().to_numpy(dtype=bool)
    if not mask.any():
        return mask, []
    scanners = ip[hit].dropna().unique()
    mine = ip.isin(scanners).fillna(False).to_numpy(dtype=bool)
    day = pd.DataFrame({
        "ip": ip[mine].to_numpy(),
        "user": events["user_id"].astype("string")[mine].to_numpy(),
        "success": events["login_success"].astype("boolean").fillna(False).to_numpy(dtype=bool)[mine],
        "time": pd.to_datetime(events["timestamp"], utc=True)[mine].to_numpy(),
    })
    by_source = day.groupby("ip").agg(
        attempts=("user", "size"), successes=("success", "sum"), first=("time", "min"), last=("time", "max"),
        accounts=("user", lambda users: sorted(users.dropna().unique())),
    )
    opening = "the only source" if len(scanners) == 1 else f"one of {len(scanners):,} sources"
    # One sentence per address, quoted by each of its rows.
    sentences = {source: _scanning_sentence(opening, facts) for source, facts in by_source.iterrows()}
    return mask, [sentences[source] for source in ip.iloc[rows[mask]]]


def _scanning_sentence(opening: str, source: pd.Series) -> str:
    accounts = source["accounts"]
    named = ", ".join(accounts[:MAX_SCANNED_NAMED]) + (" ..." if len(accounts) > MAX_SCANNED_NAMED else "")
    minutes = (source["last"] - source["first"]) / pd.Timedelta(minutes=1)
    outcome = "none succeeded" if source["successes"] == 0 else f"{source['successes']:.0f} succeeded"
    failed = source["attempts"] - source["successes"]
    return (f"{opening} scanning today: {_count(failed, 'failed attempt')} against "
            f"{_count(len(accounts), 'account')} ({named}) in {format_minutes(minutes)}, {outcome}")


def _simple(code: str, builder: Callable) -> Callable:
    def run(r: FlaggedRows):
        mask, texts = builder(r)
        return mask, texts, [code] * int(np.sum(mask))
    return run


_EVIDENCE: tuple[Callable, ...] = (
    _place_and_travel,
    _simple("password_spray", _spray),
    _failures,
    _volume,
    _new_device,
    _simple("new_ip", _new_ip),
    _resource,
    _simple("off_hours", _off_hours),  # the rule code, and the reason code without it
    _simple("rare_place", _rare_place),
    _simple("many_logins", _many_logins),
)


def _check(events, features, rule_hits, flagged) -> np.ndarray:
    flagged = np.asarray(flagged, dtype=bool)
    sizes = {"events": len(events), "flagged_mask": len(flagged)}
    if features is not None:
        sizes["features"] = len(features)
    if rule_hits is not None:
        sizes["rule_hits"] = len(rule_hits)
    if len(set(sizes.values())) > 1:
        raise ExplainInputError(f"inputs describe different numbers of rows: {sizes}")
    return flagged


@collector_paused()
def explain(
    events: pd.DataFrame,
    features: pd.DataFrame | None,
    rule_hits: pd.DataFrame | None,
    flagged_mask,
    flagged_features: pd.DataFrame | None = None,
    typical: TypicalValues | None = None,
    *,
    flagged_events: pd.DataFrame | None = None,
    flagged_rule_hits: pd.DataFrame | None = None,
) -> pd.Series:
    """Reasons for each flagged event.

    Parameters
    ----------
    events, features, rule_hits
        The day's events, their features (:func:`ztad.behaviour.features.compute_features`) and rule
        hits (:func:`ztad.behaviour.rules.evaluate_rules`), row-aligned. Of the rows not
        flagged, only those of an address the ``background_scanning`` rule hit are read (a
        scanner's sentence counts its whole day), so the rows given may be limited to the
        flagged ones and those.
    flagged_mask
        Boolean per row: which events were flagged.
    flagged_features
        Every feature and ``ctx_*`` column of the flagged rows only, in order; when given,
        ``features`` need hold only the model inputs of the day (what the fallback compares
        with), so that a large day's context columns are never held whole.
    typical
        The day's typical feature values the fallback compares with
        (:class:`ztad.findings.typical.TypicalValues`; those of ``features`` by default). With
        it and ``flagged_features``, ``features`` may be ``None``: the day's model inputs are
        not needed at all.
    flagged_events, flagged_rule_hits
        The flagged rows of ``events`` and ``rule_hits``, in order, when the caller has picked
        them out already (for the findings too): they are not picked out again.

    Returns
    -------
    pandas.Series
        One entry per flagged row (index of the flagged events, in order): a list of
        ``{"code": str, "text": str}``, strongest evidence first, never empty.
    """
    flagged = _check(events, features, rule_hits, flagged_mask)
    rows = np.flatnonzero(flagged)
    if flagged_rule_hits is None and rule_hits is not None:
        flagged_rule_hits = rule_hits.iloc[rows]
    r = FlaggedRows(
        positional(events.iloc[rows] if flagged_events is None else flagged_events),
        positional(features.iloc[rows] if flagged_features is None else flagged_features),
        None if flagged_rule_hits is None else positional(flagged_rule_hits),
        missing_number=0.0,
        missing_text="unknown",
    )
    scanning, scanning_texts = _scanning(events, rule_hits, rows)
    reasons: list[list[dict[str, str]]] = [[] for _ in rows]
    for evidence in _EVIDENCE:
        mask, texts, codes = evidence(r)
        for i, text, code in zip(np.flatnonzero(mask), texts, codes):
            reasons[i].append({"code": code, "text": text})
    for i, text in zip(np.flatnonzero(scanning), scanning_texts):
        reasons[i] = [{"code": SCANNING_CODE, "text": text}]
    missing = np.array([not reason for reason in reasons], dtype=bool)
    if missing.any():
        typical = TypicalValues.of_frame(features) if typical is None else typical
        texts = _deviations(r, typical.median, typical.spread, missing)[1]
        for i, text in zip(np.flatnonzero(missing), texts):
            reasons[i].append({"code": "deviation", "text": text})
    cold_mask, cold_texts = _cold_start(r)
    for i, text in zip(np.flatnonzero(cold_mask), cold_texts):
        if not scanning[i]:  # a scanner's made-up account is no new user
            reasons[i].append({"code": "cold_start", "text": text})
    return pd.Series(reasons, index=events.index[rows], dtype=object)
