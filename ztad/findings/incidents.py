"""Group a day's findings into incidents, so that one attack is one row to triage.

Three kinds of incident:

- **source**: every finding of the day from one source that attacked several accounts:
  a password spray (a finding with the ``password_spray`` reason), or failed-login bursts
  (``brute_force``, ``failures``, ``success_after_failures``) against at least two users.
  The source is the client IP address, else the workstation for sign-ins logged without an
  address (:mod:`ztad.behaviour.attempt_source`). Id ``<day>:source:<ip>`` or
  ``<day>:source:workstation <name>``; ``source_ip`` is set for an address only.
  A source whose findings that day touch a single account is not one: its findings join
  that user's incident. Whoever triages it looks at one account (was it compromised, is the
  user locked out), with that user's other findings of the day beside it; the spray or
  brute-force reasons stay on the findings and in the incident's categories.
- **user**: every other finding of one user that day. Id ``<day>:user:<user_id>``.
- **scanning**: every finding of the day from addresses the ``background_scanning`` rule
  recognised (never seen, a few attempts against root, admin or accounts that are not real,
  no success; :mod:`ztad.behaviour.features.scanning`), in one low-severity incident that
  lists the sources and their counts. Id ``<day>:scanning``; many sources and no real
  account, so ``source_ip`` and ``user_id`` are empty. A source that persists, targets a real
  account or gets in is not background noise and keeps an incident of its own.

Ids are derived from the day and the entity only, so a rerun of the day gives the same
incidents and the store keeps their triage (status, assignee, notes).

Each incident carries its severity (its worst finding, plus a little for many findings), its
first and last event times, counts, the reason codes seen and a one-line summary.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ztad.behaviour.attempt_source import WORKSTATION_PREFIX, sources_of
from ztad.findings.collection import collector_paused
from ztad.findings.severity import incident_severity, level_of, pattern_points

#: Reasons that make an address a source of attack when they span users.
FAILURE_CODES = frozenset({"brute_force", "failures", "success_after_failures"})
SPRAY_CODE = "password_spray"
#: The rule that recognises the internet's background scanning, as findings name it.
SCANNING_DETECTOR = "rule:background_scanning"
SCANNING_CATEGORY = "background_scanning"
#: Highest severity of the scanning incident: "low" whatever its findings (each keeps its own).
SCANNING_MAX_SEVERITY = 39
#: Sources named in the scanning incident's summary at most (the rest are counted).
MAX_SOURCES_LISTED = 30
#: Users listed in an incident's ``users`` document at most.
MAX_USERS_LISTED = 100
#: Incident columns, as the ``incidents`` table has them (triage columns default in the store).
INCIDENT_COLUMNS: tuple[str, ...] = (
    "incident_id", "day", "kind", "user_id", "source_ip", "category", "categories", "severity",
    "severity_level", "first_time", "last_time", "finding_count", "user_count", "users", "summary",
    "run_id", "status",
)
#: Finding columns the grouping reads.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "user_id", "ip_address", "event_time", "reasons", "severity", "category", "login_success",
)


class IncidentInputError(ValueError):
    """The findings cannot be grouped: a column is missing."""


def _code_sets(reasons: pd.Series) -> list[frozenset[str]]:
    return [frozenset(str(r["code"]) for r in (rs if rs is not None else [])) for rs in reasons]


def _texts(values: pd.Series) -> list[str | None]:
    """A column as plain Python text, ``None`` where missing."""
    text = values if values.dtype == "string" else values.astype("string")
    return text.to_numpy(dtype=object, na_value=None).tolist()


def source_addresses(findings: pd.DataFrame) -> set[str]:
    """Sources (addresses or workstations) that sprayed and whose findings touch several
    accounts, or that failed for several users."""
    return _attack_sources(_texts(sources_of(findings)), _texts(findings["user_id"]), _code_sets(findings["reasons"]))


def _attack_sources(sources: list, users: list, codes: list[frozenset[str]]) -> set[str]:
    """:func:`source_addresses` of the findings' aligned sources, users and reason codes.

    The findings are the day's flagged events only (a few per thousand), so sets of plain
    values cost less than grouping frames, for a request of one event as for a day.
    """
    touched: dict[str, set] = {}
    failed_for: dict[str, set] = {}
    sprayers: set[str] = set()
    for source, user, code in zip(sources, users, codes):
        if source is None:
            continue
        touched.setdefault(source, set()).add(user)
        if SPRAY_CODE in code:
            sprayers.add(source)
        if code & FAILURE_CODES:
            failed_for.setdefault(source, set()).add(user)
    several = {source for source, accounts in touched.items() if len(accounts - {None}) >= 2}
    failing = {source for source, accounts in failed_for.items() if len(accounts - {None}) >= 2}
    return (sprayers & several) | failing


def scanning_sources(findings: pd.DataFrame) -> set[str]:
    """Addresses whose findings the ``background_scanning`` rule raised (none when the
    findings carry no ``detectors``)."""
    return _scanners(_texts(findings["ip_address"]), findings.get("detectors"))


def _scanners(addresses: list[str | None], detectors) -> set[str]:
    """:func:`scanning_sources` of the findings' aligned addresses and detectors."""
    if detectors is None:
        return set()
    return {
        address
        for address, raised in zip(addresses, detectors)
        if address is not None and SCANNING_DETECTOR in (raised if raised is not None else [])
    }


def incident_ids(findings: pd.DataFrame, day: date) -> pd.Series:
    """The incident id of each finding (same index)."""
    _require(findings)
    ids = incident_ids_of(findings, findings["reasons"], findings.get("detectors"), day)
    return pd.Series(ids, index=findings.index, dtype="string")


def incident_ids_of(rows: pd.DataFrame, reasons, detectors, day: date) -> list[str | None]:
    """The incident id of each finding, from its ``rows`` (``user_id``, ``ip_address`` and
    ``device_id`` of the findings or of their events, row-aligned), reasons and detectors
    (``None``: no detectors known)."""
    attempts, users, addresses = _texts(sources_of(rows)), _texts(rows["user_id"]), _texts(rows["ip_address"])
    attackers = _attack_sources(attempts, users, _code_sets(reasons))
    scanners = _scanners(addresses, detectors)
    prefix = day.isoformat()
    return [
        f"{prefix}:scanning" if address in scanners
        else f"{prefix}:source:{source}" if source in attackers
        else None if user is None else f"{prefix}:user:{user}"
        for address, source, user in zip(addresses, attempts, users)
    ]


#: The columns of the findings that :func:`build_incidents` reads besides ``reasons``.
INCIDENT_INPUTS = ("user_id", "category", "severity", "event_time", "login_success", "location", "ip_address",
                   "device_id")


@collector_paused()
def build_incidents(findings: pd.DataFrame, day: date, run_id: str | None = None) -> pd.DataFrame:
    """One row per incident of the day's findings (which must carry ``incident_id``).

    Returns
    -------
    pandas.DataFrame
        :data:`INCIDENT_COLUMNS`, most severe first.
    """
    _require(findings, ("incident_id",))
    if findings.empty:
        return pd.DataFrame({name: [] for name in INCIDENT_COLUMNS})
    # Only the columns an incident reads: the JSON columns of a finding (reasons, top
    # features, attributions) are heavy.
    columns = [c for c in ("incident_id", *INCIDENT_INPUTS) if c in findings.columns]
    groups = _Groups(findings[columns].reset_index(drop=True), _code_sets(findings["reasons"]))
    rows = [_incident(groups, k, day, run_id) for k in range(len(groups.ids))]
    out = pd.DataFrame(rows, columns=list(INCIDENT_COLUMNS))
    # "severity" holds the worst finding's until here.
    out["severity"] = incident_severity(out["severity"], out["finding_count"])
    scanning = out["category"].eq(SCANNING_CATEGORY).to_numpy()
    out.loc[scanning, "severity"] = out.loc[scanning, "severity"].clip(upper=SCANNING_MAX_SEVERITY)
    out["severity_level"] = level_of(out["severity"])
    return out.sort_values(["severity", "first_time"], ascending=[False, True], ignore_index=True)


class _Groups:
    """The findings grouped by incident id (in sorted id order, each group's rows in their
    order): what every incident needs, computed once for the whole day as columns (times,
    worst severity) or as plain arrays sliced per incident. A night of a million events has
    thousands of incidents; a pandas frame per incident cost milliseconds each."""

    def __init__(self, frame: pd.DataFrame, codes: list[frozenset[str]]):
        keys, ids = pd.factorize(frame["incident_id"], sort=True)
        self.frame, self.ids = frame, [str(i) for i in ids]
        self.order = np.argsort(keys, kind="stable")
        self.bounds = np.searchsorted(keys[self.order], np.arange(len(ids) + 1))
        times = frame["event_time"].groupby(keys)
        self.first, self.last = list(times.min()), list(times.max())
        self.worst = pd.to_numeric(frame["severity"]).groupby(keys).max().to_numpy()
        self.users = frame["user_id"].astype(str).to_numpy(dtype=object)
        self.codes = np.array(codes, dtype=object)
        category = frame["category"]
        self.categories = category.astype(object).where(category.notna(), None).to_numpy(dtype=object)
        self._rank_places(keys, frame["location"] if "location" in frame.columns else None)

    def _rank_places(self, keys: np.ndarray, location: pd.Series | None) -> None:
        """Every incident's distinct places, most frequent first, in one sort of the day's
        (incident, place) pairs by incident, count (descending) and first sighting."""
        if location is None:
            location = pd.Series(pd.NA, index=range(len(keys)), dtype="string")
        ordered = location.iloc[self.order]
        seen = ordered.notna().to_numpy(bool)
        place_codes, names = pd.factorize(ordered[seen].astype(str))
        width = max(1, len(names))
        pairs, first, counts = np.unique(
            keys[self.order][seen].astype(np.int64) * width + place_codes, return_index=True, return_counts=True
        )
        ranked = pairs[np.lexsort((first, -counts, pairs // width))]
        self.places_by_group = [str(n) for n in np.asarray(names, dtype=object)[ranked % width]]
        self.place_bounds = np.searchsorted(ranked // width, np.arange(len(self.ids) + 1))

    def rows(self, k: int) -> np.ndarray:
        """Positions of incident ``k``'s findings, in their order."""
        return self.order[self.bounds[k] : self.bounds[k + 1]]

    def places(self, k: int) -> list[str]:
        """Incident ``k``'s findings' places, most frequent first (ties: first seen first)."""
        return self.places_by_group[self.place_bounds[k] : self.place_bounds[k + 1]]

    def frame_of(self, k: int) -> pd.DataFrame:
        """Incident ``k``'s findings as a frame (for the few source and scanning incidents)."""
        return self.frame.iloc[self.rows(k)]


def _incident(groups: _Groups, k: int, day: date, run_id: str | None) -> dict:
    incident_id, rows = groups.ids[k], groups.rows(k)
    scanning = incident_id.endswith(":scanning")
    kind = "scanning" if scanning else "source" if ":source:" in incident_id else "user"
    users = sorted(set(groups.users[rows]))
    counts: dict[str, int] = {}
    for codes in groups.codes[rows]:
        for code in codes:
            counts[code] = counts.get(code, 0) + 1
    first, last, worst = groups.first[k], groups.last[k], int(groups.worst[k])
    span = f"{_clock(first)}-{_clock(last)} UTC"
    group = groups.frame_of(k) if kind != "user" else None
    if scanning:
        category, summary = SCANNING_CATEGORY, _scanning_summary(group, users, span)
    else:
        category = _category(kind, [c for c in groups.categories[rows] if c is not None], counts)
        summary = (_source_summary(group, users, counts, span, worst) if kind == "source"
                   else _user_summary(groups.places(k), len(rows), users, counts, span, worst))
    return {
        "incident_id": incident_id,
        "day": day,
        "kind": kind,
        "user_id": users[0] if kind == "user" else None,
        "source_ip": _source_ip(group) if kind == "source" else None,
        "category": category,
        "categories": dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
        "severity": worst,
        "severity_level": None,
        "first_time": first,
        "last_time": last,
        "finding_count": len(rows),
        "user_count": len(users),
        "users": users[:MAX_USERS_LISTED],
        "summary": summary,
        "run_id": run_id,
        "status": "new",
    }


def _category(kind: str, categories: list, counts: dict[str, int]) -> str | None:
    """A source incident is a spray or a brute force; a user's, its weightiest category."""
    if kind == "source":
        if SPRAY_CODE in counts:
            return SPRAY_CODE
        failures = [code for code in counts if code in FAILURE_CODES]
        if failures:
            return max(failures, key=pattern_points)
    categories = [str(c) for c in categories]
    return max(categories, key=pattern_points) if categories else None


def _source_ip(group: pd.DataFrame) -> str | None:
    """The address of a source incident; None when its source is a workstation."""
    source = str(sources_of(group).iloc[0])
    return None if source.startswith(WORKSTATION_PREFIX) else source


def _clock(value) -> str:
    return pd.Timestamp(value).strftime("%H:%M")


def _words(code: str) -> str:
    return code.replace("_", " ")


def _listing(counts: dict[str, int], limit: int = 4) -> str:
    """The weightiest reason codes with their counts; ties go by name, so that the same findings
    give the same summary whatever order their rows came in."""
    ranked = sorted(counts.items(), key=lambda item: (-pattern_points(item[0]), -item[1], item[0]))
    return ", ".join(f"{_words(code)} ({n})" for code, n in ranked[:limit] if code != "cold_start")


def _source_summary(group: pd.DataFrame, users: list[str], counts: dict[str, int], span: str, worst: int) -> str:
    source = sources_of(group).iloc[0]
    succeeded = group["login_success"].astype("boolean").fillna(False).to_numpy(bool)
    winners = sorted(group.loc[succeeded, "user_id"].astype(str).unique())
    gained = f"; {len(winners)} success(es): {', '.join(winners[:5])}" if winners else "; no success"
    return (f"{source} against {len(users)} users: {int((~succeeded).sum())} failed and "
            f"{int(succeeded.sum())} successful logins {span}{gained}; {_listing(counts)}; worst finding {worst}")


def _user_summary(places: list[str], findings: int, users: list[str], counts: dict[str, int], span: str,
                  worst: int) -> str:
    where = f"; from {', '.join(places[:3])}" if places else ""
    return f"{users[0]}: {findings} finding(s) {span}: {_listing(counts)}{where}; worst finding {worst}"


def _scanning_summary(group: pd.DataFrame, users: list[str], span: str) -> str:
    """Sources and their attempts, busiest first, and the accounts they tried."""
    counts = group["ip_address"].astype(str).value_counts()
    counts = counts.sort_index().sort_values(ascending=False, kind="stable")
    listed = ", ".join(f"{source} ({n})" for source, n in counts.iloc[:MAX_SOURCES_LISTED].items())
    more = f" and {len(counts) - MAX_SOURCES_LISTED} more" if len(counts) > MAX_SOURCES_LISTED else ""
    sources = "source" if len(counts) == 1 else "sources"
    attempts = "attempt" if len(group) == 1 else "attempts"
    accounts = ", ".join(users[:10]) + (f" and {len(users) - 10} more" if len(users) > 10 else "")
    return (f"background scanning: {len(counts)} never-seen {sources}, {len(group)} failed {attempts} {span} "
            f"against {accounts}, none got in: {listed}{more}")


def _require(findings: pd.DataFrame, extra: tuple[str, ...] = ()) -> None:
    missing = [c for c in REQUIRED_COLUMNS + extra if c not in findings.columns]
    if missing:
        raise IncidentInputError(
            f"findings lack column(s) {missing}; build them with ztad.findings.build.build_findings and "
            "add severity, category and incident_id first"
        )
