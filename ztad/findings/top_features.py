"""The features that made a finding, each with its value and the user's baseline.

For every flagged event, up to :data:`TOP_FEATURES` features are chosen: first those behind
the behavioural rules that fired (a rule is the clearest evidence), then those the detectors
blamed most (:func:`ztad.findings.attributions.combined_shares`), else those furthest from the day's
typical values. Each comes as a small document an analyst can read without the model::

    {"feature": "bytes_log_ratio", "value": 1.68, "share": 0.41,
     "observed": 2147483648, "baseline": 44040192,
     "text": "2.0 GB transferred; usually 42.0 MB for this user and resource (48x)"}

``value`` is the model input, ``observed`` the raw fact behind it and ``baseline`` what the
user's history says (from the ``ctx_*`` columns of :func:`ztad.behaviour.features.compute_features`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from ztad.findings.evidence import FlaggedRows, positional, rule_marks
from ztad.findings.sentences import (
    format_bytes,
    format_clock,
    format_minutes,
    format_ratio,
)
from ztad.findings.typical import TypicalValues

#: Features listed per finding.
TOP_FEATURES = 5
#: The features behind each behavioural rule, strongest first.
RULE_FEATURES: dict[str, tuple[str, ...]] = {
    "impossible_travel": ("travel_speed", "city_novelty"),
    "password_spray": ("ip_failed_users_60m",),
    "brute_force": ("user_failures_10m",),
    "success_after_failures": ("success_after_failures", "user_failures_10m"),
    "large_transfer": ("bytes_log_ratio", "bytes_z"),
    "off_hours": ("off_hours_distance", "hour_rarity"),
    "new_device_new_place": ("device_novelty", "city_novelty", "ip_novelty"),
    "rare_sensitive_access": ("resource_novelty", "resource_sensitive"),
    "background_scanning": ("ip_new_in_org", "login_failed"),
    "resource_new_to_peers": ("resource_novelty", "resource_rarity_peers"),
}


def _number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 3)


def _count(value: float) -> str:
    return "?" if not math.isfinite(value) else f"{value:,.0f}"


# --------------------------------------------------------------------------- per feature family
# Each returns, for rows ``i`` of the flagged events: observed values, baseline values, texts.


def _time(f: FlaggedRows, i: np.ndarray):
    hour, zone = f.num("ctx_local_hour")[i], f.text("ctx_timezone")[i]
    start, end = f.num("ctx_usual_start")[i], f.num("ctx_usual_end")[i]
    # Without earlier logins of the user, "usual hours" would be a prior, not the user's.
    known = np.nan_to_num(f.num("ctx_history_events")[i], nan=1.0) > 0
    observed = [format_clock(h) if math.isfinite(h) else None for h in hour]
    baseline = [f"{format_clock(s)}-{format_clock(e)}" if k and math.isfinite(s) and math.isfinite(e) else None
                for s, e, k in zip(start, end, known)]
    texts = [f"login at {o or '?'} local time ({z or 'UTC'}); usual hours {b or 'not established'}"
             for o, z, b in zip(observed, zone, baseline)]
    return observed, baseline, texts


def _place(f: FlaggedRows, i: np.ndarray):
    location, home = f.text("location")[i], f.text("ctx_home_location")[i]
    days, peers, org = f.num("ctx_city_days")[i], f.num("ctx_city_peer_users")[i], f.num("ctx_city_org_users")[i]
    texts = [
        f"{loc or 'unknown place'}: seen on {_count(d)} of the user's days; home {h or 'unknown'}; "
        f"used by {_count(p)} peers and {_count(o)} users of the organisation"
        for loc, h, d, p, o in zip(location, home, days, peers, org)
    ]
    return list(location), list(home), texts


def _travel(f: FlaggedRows, i: np.ndarray):
    speed, km = f.num("ctx_travel_kmh")[i], f.num("ctx_travel_km")[i]
    minutes, other = f.num("ctx_travel_minutes")[i], f.text("ctx_travel_location")[i]
    texts = [
        f"{_count(s)} km/h: {_count(k)} km from {o or 'the previous login'} in "
        f"{format_minutes(m) if math.isfinite(m) else '?'}"
        for s, k, m, o in zip(speed, km, minutes, other)
    ]
    return [_number(s) for s in speed], list(other), texts


def _device(f: FlaggedRows, i: np.ndarray):
    device, days, known = f.text("device_id")[i], f.num("ctx_device_days")[i], f.num("ctx_user_devices")[i]
    texts = [f"device {d or '?'}: seen on {_count(n)} of the user's days; {_count(k)} known devices"
             for d, n, k in zip(device, days, known)]
    return list(device), [_number(k) for k in known], texts


def _address(f: FlaggedRows, i: np.ndarray):
    ip, days, network = f.text("ip_address")[i], f.num("ctx_ip_days")[i], f.num("ctx_network_days")[i]
    before, today = f.num("ctx_ip_users_history")[i], f.num("ctx_ip_users_today")[i]
    texts = [
        f"IP {a or '?'}: seen on {_count(d)} of the user's days (its network on {_count(n)}); "
        f"{_count(b)} users before, {_count(t)} today"
        for a, d, n, b, t in zip(ip, days, network, before, today)
    ]
    return list(ip), [_number(d) for d in days], texts


def _resource(f: FlaggedRows, i: np.ndarray):
    resource, days = f.text("resource")[i], f.num("ctx_resource_days")[i]
    users, size = f.num("ctx_resource_group_users")[i], f.num("ctx_group_size")[i]
    texts = [f"{r or '?'}: used on {_count(d)} of the user's days; by {_count(u)} of {_count(s)} peers"
             for r, d, u, s in zip(resource, days, users, size)]
    return list(resource), [_number(d) for d in days], texts


def _login(f: FlaggedRows, i: np.ndarray):
    success = f.events["login_success"].iloc[i].astype("boolean").to_numpy(dtype=object, na_value=None)
    observed = [None if s is None else ("succeeded" if s else "failed") for s in success]
    return observed, [None] * len(i), [f"login {o or 'outcome unknown'}" for o in observed]


def _failures(f: FlaggedRows, i: np.ndarray):
    ten, hour = f.num("ctx_user_failures_10m")[i], f.num("ctx_user_failures_60m")[i]
    texts = [f"{_count(t)} failed logins of the user in 10 min ({_count(h)} in the hour)" for t, h in zip(ten, hour)]
    return [_number(t) for t in ten], [None] * len(i), texts


def _spray(f: FlaggedRows, i: np.ndarray):
    users, attempts, source = f.num("ctx_ip_failed_users_60m")[i], f.num("ctx_ip_failures_60m")[i], f.source()[i]
    texts = [f"{a or 'the source'} failed as {_count(u)} users in an hour ({_count(n)} attempts)"
             for a, u, n in zip(source, users, attempts)]
    return [_number(u) for u in users], [None] * len(i), texts


def _volume(f: FlaggedRows, i: np.ndarray):
    sent, usual = f.num("bytes_transferred")[i], f.num("ctx_usual_bytes")[i]
    texts = []
    for s, u in zip(sent, usual):
        if math.isfinite(s) and math.isfinite(u) and u > 0:
            texts.append(f"{format_bytes(s)} transferred; usually {format_bytes(u)} ({format_ratio(s / u)})")
        else:
            texts.append(f"{format_bytes(s) if math.isfinite(s) else '?'} transferred; no usual amount yet")
    return [_number(s) for s in sent], [_number(u) for u in usual], texts


def _activity(f: FlaggedRows, i: np.ndarray):
    so_far, usual = f.num("ctx_events_so_far")[i], f.num("ctx_usual_daily_events")[i]
    texts = [f"{_count(s)} events so far today; usually {_count(u)} per day" for s, u in zip(so_far, usual)]
    return [_number(s) for s in so_far], [_number(u) for u in usual], texts


def _generic(name: str) -> Callable:
    """A feature without a family: its value only."""
    def facts(f: FlaggedRows, i: np.ndarray):
        values = f.num(name)[i]
        return [None] * len(i), [None] * len(i), [f"{name} = {v:.2f}" for v in values]
    return facts


_FAMILIES: dict[str, Callable] = {
    **dict.fromkeys(("hour_rarity", "off_hours_distance", "day_off"), _time),
    **dict.fromkeys(("city_novelty", "country_novelty", "city_rarity_peers", "city_rarity_org"), _place),
    "travel_speed": _travel,
    "device_novelty": _device,
    **dict.fromkeys(("ip_novelty", "network_novelty", "ip_users_today", "ip_users_history", "ip_new_in_org"), _address),
    **dict.fromkeys(("resource_novelty", "resource_rarity_peers", "resource_sensitive"), _resource),
    "login_failed": _login,
    **dict.fromkeys(("user_failures_10m", "user_failures_60m", "success_after_failures"), _failures),
    "ip_failed_users_60m": _spray,
    **dict.fromkeys(("bytes_log_ratio", "bytes_z", "bytes_z_peers"), _volume),
    "logins_today_ratio": _activity,
}


# --------------------------------------------------------------------------- choice


def _rule_features(rule_hits: pd.DataFrame | None, names: list[str]) -> list[list[str]]:
    n = 0 if rule_hits is None else len(rule_hits)
    chosen: list[list[str]] = [[] for _ in range(n)]
    if rule_hits is None:
        return chosen
    for code, features in RULE_FEATURES.items():
        if code not in rule_hits.columns:
            continue
        usable = [name for name in features if name in names]
        for i in np.flatnonzero(rule_marks(rule_hits, code, n)):
            chosen[i].extend(usable)
    return chosen


def choose(
    names: list[str],
    shares: np.ndarray,
    rule_hits: pd.DataFrame | None,
    deviation: np.ndarray | None = None,
    top: int = TOP_FEATURES,
) -> list[list[str]]:
    """Per flagged row, the names of its top features.

    Rules' features come first, then features by share of blame; a row the detectors did not
    attribute (all shares 0) is ranked by ``deviation`` instead, when given.
    """
    by_rule = _rule_features(rule_hits, names)
    ranking = shares
    if deviation is not None:
        unattributed = shares.sum(axis=1) <= 0
        ranking = np.where(unattributed[:, None], deviation, shares)
    order = np.argsort(-ranking, axis=1, kind="stable")
    chosen = []
    for i in range(len(ranking)):
        picked = list(dict.fromkeys(by_rule[i] if by_rule else []))
        for j in order[i]:
            if len(picked) >= top or ranking[i, j] <= 0:
                break
            if names[j] not in picked:
                picked.append(names[j])
        chosen.append(picked[:top])
    return chosen


def deviations(typical: TypicalValues, rows: pd.DataFrame, names: list[str]) -> np.ndarray:
    """Distance of ``rows``' features from the day's median, in interquartile ranges
    (:class:`ztad.findings.typical.TypicalValues`)."""
    return typical.distance(rows, names)


def top_feature_documents(
    events: pd.DataFrame,
    features: pd.DataFrame,
    names: list[str],
    shares: pd.DataFrame | None = None,
    rule_hits: pd.DataFrame | None = None,
    deviation: np.ndarray | None = None,
    top: int = TOP_FEATURES,
) -> list[list[dict]]:
    """Per flagged event, its top features as documents (see the module docstring).

    Parameters
    ----------
    events, features
        The flagged events and their features with ``ctx_*`` columns, row-aligned.
    names
        The model's feature names.
    shares
        Per row and feature, the detectors' combined share of blame (row-aligned), if any.
    rule_hits
        One bool column per rule code, row-aligned.
    deviation
        Per row and feature (``names`` order), distance from the day's typical values: ranks
        features when the detectors give no shares.
    """
    events, features = positional(events), positional(features)
    rule_hits = None if rule_hits is None else positional(rule_hits)
    share_values = np.zeros((len(features), len(names)))
    if shares is not None and not shares.empty:
        if list(shares.columns) != names:  # the model's features, in order, as they mostly are
            shares = shares.reindex(columns=names, fill_value=0.0)
        share_values = shares.to_numpy(np.float64)
    chosen = choose(names, share_values, rule_hits, deviation, top)
    position = {name: j for j, name in enumerate(names)}
    facts = FlaggedRows(events, features)
    documents: list[list[dict]] = [[None] * len(c) for c in chosen]
    wanted: dict[str, list[tuple[int, int]]] = {}
    for i, picked in enumerate(chosen):
        for k, name in enumerate(picked):
            wanted.setdefault(name, []).append((i, k))
    for name, places in wanted.items():
        rows = np.array([i for i, _ in places], dtype=np.int64)
        observed, baseline, texts = _FAMILIES.get(name, _generic(name))(facts, rows)
        values = facts.num(name)[rows] if name in features else np.full(len(rows), np.nan)
        share = share_values[rows, position[name]] if name in position else np.full(len(rows), np.nan)
        for (i, k), value, part, seen, usual, text in zip(places, values.tolist(), share.tolist(), observed, baseline, texts):
            documents[i][k] = {
                "feature": name,
                "value": _number(value),
                "share": _number(part),
                "observed": seen,
                "baseline": usual,
                "text": text,
            }
    return [_distinct_texts(row) for row in documents]


def _distinct_texts(documents: list[dict]) -> list[dict]:
    """A row's documents without repeats of a sentence already given (``hour_sin`` and
    ``hour_cos`` both tell the login's hour)."""
    seen: set[str] = set()
    kept = []
    for document in documents:
        if document["text"] not in seen:
            seen.add(document["text"])
            kept.append(document)
    return kept
