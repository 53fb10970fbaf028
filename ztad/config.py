"""Typed configuration for one ztad job, passed in rather than read from globals.

The CLI builds it from flags and environment variables, the Airflow operators from
connections, Variables and DAG ``Params``, and tests construct it directly.

Environment variables (all optional):

``ZTAD_HOME``
    Folder for the embedded findings database, model artifacts and per-day state.
    Default: ``./ztad-home``.
``ZTAD_DATABASE_URL``
    SQLAlchemy URL of the findings database, e.g.
    ``postgresql+psycopg://user@host:5432/ztad``. Default: a SQLite file in ``ZTAD_HOME``.
``ZTAD_LOG_ROOT``
    Where the logs are: a folder of daily partitions, a single flat file, or any
    fsspec/pyarrow URL.
``ZTAD_LOG_FORMAT``
    ``csv``, ``parquet`` or ``jsonl``; default: guessed from file names.
``ZTAD_RULE_<NAME>``
    A rule threshold of :class:`RuleThresholds`, e.g. ``ZTAD_RULE_SPRAY_MIN_USERS=15``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path


@dataclass(frozen=True)
class SourceConfig:
    """Where a day's logs come from.

    Parameters
    ----------
    root
        Folder (or URL) of daily partitions ``date=YYYY-MM-DD/*.{csv,parquet,jsonl}``, or a
        single file holding many days.
    format
        ``csv``, ``parquet``, ``jsonl``, a log format (``sshd``, ``windows``, ``okta``,
        ``entra``, ``mapping``; see :mod:`ztad.ingest`), or ``None`` to guess from the file
        extension.
    column_mapping
        Source column name -> canonical input column name (``timestamp``, ``user_id`` ...).
    options
        Format-specific settings, e.g. ``{"year": "2026", "timezone": "Europe/Madrid"}`` for
        syslog files whose timestamps carry neither. For every format, ``geoip_city_db`` and
        ``geoip_asn_db`` name MaxMind ``.mmdb`` files that give the loaded events their places
        and autonomous systems (:mod:`ztad.ingest.geoip`).
    """

    root: str
    format: str | None = None
    column_mapping: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FeatureSettings:
    """Knobs of the behavioural features (defaults follow common industry practice).

    Parameters
    ----------
    cold_start
        Judge users with thin history against their peers (and the organisation) instead of
        calling everything they do "new". Off only to measure what it buys.
    known_networks
        An IP or city regularly seen for the user, or shared by many users of the
        organisation (VPN egress, office), is not impossible travel, and a new address inside a
        network the user already uses is not a new source. Off only to measure.
    plausible_travel
        Logins of a plausible trip (a stay entered and left at airliner speed or slower, on a
        device the user owns) are not held against the user as new places or addresses.
        Off only to measure.
    min_history_days, min_history_events
        A user first seen fewer days ago than this, or with fewer events, is (partly) judged
        against peers. Fourteen days follows Entra ID Protection's learning period: a new
        employee's first fortnight brings new devices, addresses and resources every day.
    hour_prior_events
        Weight, in events, of the peer-group prior in the user's hour-of-week profile.
    usual_hours_share
        Share of a user's logins that their usual working window covers.
    geo_noise_km
        Moves shorter than this are GeoIP noise, never travel.
    known_user_days
        An IP, network or city seen for the user on at least this many days is one of theirs.
    known_org_users
        An IP or city used by at least this many users of the organisation is a known network.
    public_holidays
        Treat the public holidays of the country a login comes from as days off (the offline
        ``holidays`` calendars). Off by default: many organisations work through them.
    company_holidays
        Organisation-wide days off (ISO dates, e.g. a year-end shutdown), always days off.
    burst_minutes, spray_minutes
        Windows for a user's burst of failures and for one source failing across users.
    spray_pair_cap
        Most recent failures per source examined when counting distinct users in a window;
        bounds the work when one source fails hundreds of thousands of times.
    bytes_min_observations
        Transfers needed before a (user, resource) or peer baseline of bytes is trusted.
    bytes_std_floor
        Smallest spread of log-bytes used in z-scores, so that a very regular user does not
        turn a 20 % change into a huge z.
    """

    cold_start: bool = True
    known_networks: bool = True
    plausible_travel: bool = True
    min_history_days: int = 14
    min_history_events: int = 20
    hour_prior_events: float = 10.0
    usual_hours_share: float = 0.9
    geo_noise_km: float = 50.0
    known_user_days: int = 2
    known_org_users: int = 10
    public_holidays: bool = False
    company_holidays: tuple[str, ...] = ()
    burst_minutes: int = 10
    spray_minutes: int = 60
    spray_pair_cap: int = 500
    bytes_min_observations: int = 5
    bytes_std_floor: float = 0.25


@dataclass(frozen=True)
class RuleThresholds:
    """Thresholds of the behavioural rules (:mod:`ztad.behaviour.rules`).

    Each can be set by name: ``--rule spray_min_users=15`` on the command line,
    ``ZTAD_RULE_SPRAY_MIN_USERS=15`` in the environment, or the DAG Param ``rule_thresholds``
    (``{"spray_min_users": 15}``); see :func:`rule_thresholds`.

    Parameters
    ----------
    travel_min_km, travel_min_kmh
        Impossible travel: at least this far, faster than this. Airliners average below
        800 km/h gate to gate once airport time is counted, so a faster move of 500+ km is
        not a flight.
    spray_min_users
        Password spray: one source failing against at least this many distinct users within
        the spray window (an hour).
    brute_force_min_failures
        Brute force: at least this many failures of one user within the burst window (10 min).
        Typing mistakes produce bursts of up to about six.
    success_after_min_failures
        A success preceded by at least this many failures of the user within 10 minutes.
    large_transfer_min_ratio, large_transfer_min_z, large_transfer_min_observations
        Large transfer: bytes at least this many times the user's usual for the resource, at
        least this many standard deviations above it (log scale, spread shrunk towards peers),
        judged on at least this many past transfers.
    large_transfer_max_peer_surge
        ... unless at least this many other users of the peer group moved ten times their
        usual or more on the same resource that day (a month-end close, not an exfiltration).
    large_transfer_single_min_ratio
        ... and, when it is the user's only transfer of the day at ten times their usual or
        more, only at this many times the usual (heavy tails make one 50x transfer ordinary;
        an exfiltration moves its bulk in several).
    off_hours_min_hours, off_hours_min_rarity
        Off-hours login: at least this many hours outside the user's usual working window
        (03:00 for a 09:00-17:00 worker), at an hour of the week at least 10**rarity times
        less likely than an even spread, for a user with mature history (evening overtime is
        a few hours out; an attacker's night is half a day out).
    off_hours_night_end, off_hours_night_min_hours
        ... or, for a login before this local hour (the small hours), at least this many hours
        outside the window: 02:00-04:30 is only four to seven hours before a 09:00 start, yet
        nobody's evening overtime.
    off_hours_evening_start
        ... but from this local hour to midnight, for a user whose usual window lies within
        the day (after the small hours, ending by this hour), a login is evening overtime and
        not off hours, however far after the window (a 22:30 login of an 08:00-16:00 worker).
    off_hours_max_own_events
        ... and only when the user has fewer than this many logins of their own within two
        hours of that time of day in the baseline window (an on-call engineer's nights are
        their own habit; a strict day worker has none).
    off_hours_min_night_days
        ... and, in the small hours, only when the user's baseline window holds fewer than
        this many separate days with small-hours logins of their own (an on-call engineer's
        nights, once seen on several days, are their pattern; an attacker's first night is
        not). A night counts when its logins were trusted, or alerted by this rule alone for a
        user with no other alert (the model, another rule) and nothing confirmed in the window:
        the first nights of a rotation are alerted, the next ones are the user's habit, where
        an alerted night that never counted would alert every night of every rotation; an
        account alerted for anything else earns no habit from its alerts.
    min_maturity
        Rules that compare with the user's own habits (off hours, new device from a new place)
        apply only to users whose history is at least this mature (0 new, 1 mature): new
        employees get new everything.
    rare_sensitive_max_peer_share
        Sensitive resource first accessed by the user although at most this share of their
        peers ever used it.
    scanning_max_attempts, scanning_max_minutes
        Background scanning: an address the organisation has never seen, failing against
        root, admin or accounts that do not exist and never getting in, with at most this many
        attempts in the day, all within this many minutes (two connections of sshd's six
        ``MaxAuthTries``). A source that tries more or for longer persists, and is judged by
        the other rules on its own.
    new_to_peers_min_group
        Any resource first accessed by the user although nobody in their peer group used it in
        the window, for a group of at least this many users (no sensitive list needed).
    """

    travel_min_km: float = 500.0
    travel_min_kmh: float = 800.0
    spray_min_users: int = 10
    brute_force_min_failures: int = 8
    success_after_min_failures: int = 8
    large_transfer_min_ratio: float = 50.0
    large_transfer_min_z: float = 3.0
    large_transfer_min_observations: int = 5
    large_transfer_max_peer_surge: int = 3
    large_transfer_single_min_ratio: float = 100.0
    off_hours_min_hours: float = 6.0
    off_hours_min_rarity: float = 1.2
    off_hours_night_end: float = 5.0
    off_hours_night_min_hours: float = 3.0
    off_hours_evening_start: float = 19.0
    off_hours_max_own_events: int = 3
    off_hours_min_night_days: int = 2
    min_maturity: float = 1.0
    rare_sensitive_max_peer_share: float = 0.05
    scanning_max_attempts: int = 12
    scanning_max_minutes: float = 60.0
    new_to_peers_min_group: int = 3


#: Prefix of the environment variables that set rule thresholds (``ZTAD_RULE_SPRAY_MIN_USERS``).
RULE_ENV_PREFIX = "ZTAD_RULE_"


def rule_thresholds(values, base: RuleThresholds | None = None, *, where: str = "rule threshold") -> RuleThresholds:
    """``base`` (the defaults when ``None``) with the thresholds named in ``values`` changed.

    Parameters
    ----------
    values
        Threshold name -> value (a number, or text such as ``"15"``).
    base
        Thresholds to start from.
    where
        Where the values come from, for error messages (``--rule``, an environment variable).

    Raises
    ------
    ValueError
        On an unknown name (the message lists the known ones), a value that is not a number
        (a whole number for counts), or a negative one.
    """
    base = base or RuleThresholds()
    types = {f.name: f.type for f in fields(RuleThresholds)}
    changes = {}
    for name, raw in dict(values).items():
        if name not in types:
            raise ValueError(f"{where}: unknown rule threshold {name!r}; known: {', '.join(types)}")
        changes[name] = _threshold_value(name, raw, int if types[name] in (int, "int") else float, where)
    return replace(base, **changes)


def _threshold_value(name: str, raw, kind: type, where: str):
    expected = "a whole number" if kind is int else "a number"
    try:
        value = float("nan") if isinstance(raw, bool) else float(str(raw).strip())
    except ValueError:
        raise ValueError(f"{where}: {name}={raw!r} is not {expected}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}: {name}={raw!r} must be a finite number of at least 0")
    if kind is int and not value.is_integer():
        raise ValueError(f"{where}: {name}={raw!r} is not {expected}")
    return int(value) if kind is int else value


def rule_thresholds_from_env(environ=None) -> RuleThresholds:
    """Rule thresholds from ``ZTAD_RULE_<NAME>`` variables (``ZTAD_RULE_SPRAY_MIN_USERS=15``).

    Raises
    ------
    ValueError
        On a ``ZTAD_RULE_`` variable that names no threshold, or a bad value; the message names
        the variable.
    """
    environ = os.environ if environ is None else environ
    out = RuleThresholds()
    for variable in sorted(k for k in environ if k.startswith(RULE_ENV_PREFIX)):
        name = variable.removeprefix(RULE_ENV_PREFIX).lower()
        out = rule_thresholds({name: environ[variable]}, out, where=variable)
    return out


@dataclass(frozen=True)
class DetectionConfig:
    """How baselines are built and how alerts are decided.

    Parameters
    ----------
    history_days
        Length of the baseline window: day D is judged against days [D - history_days, D).
    training_days
        How many trailing days of feature vectors train the detectors.
    max_training_rows
        Cap on training rows (a uniform, seeded sample beyond it).
    calibration_days
        The most recent days of the training window are held out of fitting and set the
        alert threshold, so the budget is set on behaviour closest to the scored days. A
        whole week, so that weekends count in the budget as often as they occur.
    retrain_every_days
        A model older than this many days is retrained; otherwise the latest is loaded.
    target_fpr
        Alert budget: the fraction of normal events allowed to alert. The threshold is the
        ``1 - target_fpr`` quantile of the model's scores on trailing normal history, never a
        percentile of the day being scored.
    max_alerts_per_day
        Alert budget as a mean count of model alerts per day, instead of ``target_fpr``: when
        set, the rate is this count over the mean daily volume of the training window, fixed
        when a model is trained (so a quiet weekend gets fewer alerts than a busy Monday).
        ``None`` uses ``target_fpr``.
    detectors
        Registered detectors combined in the ensemble (see ``ztad.detection.detectors.DETECTORS``).
    psi_threshold
        A day whose features drift from the model's training rows by more than this
        population stability index (the median over the features that vary within the
        day) triggers a retrain.
    drift_min_rows
        Drift is measured only on a day with at least this many events: the population
        stability index of a sparse day (a few dozen logins) is noise, and would retrain
        the model every night.
    min_training_days
        A model is first trained once the training window holds this many days with
        events (a week, so that a weekend was seen). Days before are *learning* days:
        the baselines learn and the behavioural rules still flag, but no model scores.
    min_training_rows
        ... and at least this many events to fit on (never fewer than the detectors'
        own floor of 20). Events the rules or the model flagged do not count: on an
        internet-facing server most attempts are scanners, and a few legitimate logins a
        day reach 50 in about two weeks.
    seed
        Seed for every random choice (sampling, model training).
    sensitive_resources
        Resources whose access is weighted up.
    rule_thresholds
        Thresholds of the behavioural rules (:class:`RuleThresholds`).
    feature_settings
        Knobs of the behavioural features (:class:`FeatureSettings`), ``None``
        for their defaults. ``FeatureSettings(cold_start=False, known_networks=False,
        plausible_travel=False)`` switches the cold-start and known-network logic off, to
        measure what it buys (``ztad evaluate --ablation``).
    """

    history_days: int = 30
    training_days: int = 14
    max_training_rows: int = 200_000
    calibration_days: int = 7
    retrain_every_days: int = 7
    target_fpr: float = 0.001
    max_alerts_per_day: float | None = None
    detectors: tuple[str, ...] = ("isolation_forest", "ocsvm", "autoencoder", "ecod")
    psi_threshold: float = 0.25
    drift_min_rows: int = 500
    min_training_days: int = 7
    min_training_rows: int = 50
    seed: int = 42
    sensitive_resources: tuple[str, ...] = ()
    rule_thresholds: RuleThresholds = field(default_factory=RuleThresholds)
    feature_settings: FeatureSettings | None = None


def default_home() -> Path:
    """The folder for local state: ``$ZTAD_HOME`` or ``./ztad-home``."""
    return Path(os.environ.get("ZTAD_HOME", "ztad-home")).resolve()


@dataclass(frozen=True)
class JobConfig:
    """Everything one run of the job needs.

    Parameters
    ----------
    source
        Where logs come from.
    home
        Folder for per-day state, intermediate files and model artifacts.
    database_url
        SQLAlchemy URL of the findings store; ``None`` means the embedded SQLite file
        ``<home>/findings.db``.
    detection
        Baseline and alerting settings.
    use_labels
        When history the job never scored carries ``event_label``, learn the baseline and
        train the detectors only on its events labelled ``normal`` (the source's own zero-trust
        verdicts); ``False`` ignores labels. A scored day's labels are never read.
    """

    source: SourceConfig
    home: Path = field(default_factory=default_home)
    database_url: str | None = None
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    use_labels: bool = True

    @property
    def resolved_database_url(self) -> str:
        """The findings database URL, falling back to the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.home) / 'findings.db'}"

    @property
    def state_dir(self) -> Path:
        """Per-day baseline aggregates and feature files live here."""
        return Path(self.home) / "state"

    @property
    def flat_index_dir(self) -> Path:
        """A flat log file's index: each day's rows, kept from one pass over the file."""
        return Path(self.home) / "state" / "flat-index"

    @property
    def work_dir(self) -> Path:
        """Intermediate files passed between pipeline steps (one folder per day)."""
        return Path(self.home) / "work"

    @property
    def model_dir(self) -> Path:
        """Trained detector artifacts."""
        return Path(self.home) / "models"

    def with_overrides(self, **changes) -> "JobConfig":
        """Return a copy with top-level fields replaced (``detection=...``, ``home=...``)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, **overrides) -> "JobConfig":
        """Build a config from ``ZTAD_*`` environment variables, then apply ``overrides``.

        ``ZTAD_LOG_ROOT``, ``ZTAD_LOG_FORMAT``, ``ZTAD_DATABASE_URL``,
        ``ZTAD_SENSITIVE_RESOURCES`` (names separated by commas), ``ZTAD_MAX_ALERTS_PER_DAY``
        (an alert budget as a daily count), and the holiday calendar of
        the day-off feature: ``ZTAD_PUBLIC_HOLIDAYS=1`` (public holidays of the country a
        login comes from) and ``ZTAD_COMPANY_HOLIDAYS=2026-12-24,2026-12-31``, the rule
        thresholds ``ZTAD_RULE_<NAME>`` (:class:`RuleThresholds`, e.g. ``ZTAD_RULE_SPRAY_MIN_USERS=15``),
        and ``ZTAD_USE_LABELS=0`` (ignore the labels of history).
        """
        source = SourceConfig(
            root=os.environ.get("ZTAD_LOG_ROOT", "ztad-home/logs"),
            format=os.environ.get("ZTAD_LOG_FORMAT") or None,
        )
        config = cls(
            source=source,
            database_url=os.environ.get("ZTAD_DATABASE_URL") or None,
            detection=DetectionConfig(
                sensitive_resources=comma_list(os.environ.get("ZTAD_SENSITIVE_RESOURCES")),
                max_alerts_per_day=alerts_per_day_budget(os.environ.get("ZTAD_MAX_ALERTS_PER_DAY")),
                rule_thresholds=rule_thresholds_from_env(),
                feature_settings=_holiday_settings_from_env(),
            ),
            use_labels=os.environ.get("ZTAD_USE_LABELS", "1").strip().lower() not in _OFF,
        )
        return replace(config, **overrides) if overrides else config


#: Values of an on/off environment variable that turn it off.
_OFF = ("0", "false", "no", "off")


def alerts_per_day_budget(text: str | None) -> float | None:
    """``ZTAD_MAX_ALERTS_PER_DAY`` as a positive number, ``None`` when unset or blank.

    Raises
    ------
    ValueError
        When the text is not a positive number; the message names the variable.
    """
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"ZTAD_MAX_ALERTS_PER_DAY={text!r}: expected a positive number of alerts per day")
    return value


def comma_list(text: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``; nothing for ``None`` or blanks."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def holiday_settings(public: bool, company_days: str | None) -> FeatureSettings | None:
    """Feature settings with the holiday calendar asked for, or ``None`` for the defaults.

    ``company_days`` is a comma-separated list of ISO dates; a malformed one is a clear
    ``ValueError`` naming it.
    """
    from datetime import date

    days = comma_list(company_days)
    for day in days:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise ValueError(f"company holiday {day!r} is not an ISO date (YYYY-MM-DD)") from None
    if not public and not days:
        return None
    return FeatureSettings(public_holidays=public, company_holidays=days)


def _holiday_settings_from_env() -> FeatureSettings | None:
    """``ZTAD_PUBLIC_HOLIDAYS`` (1/true/yes) and ``ZTAD_COMPANY_HOLIDAYS`` (ISO dates, commas)."""
    public = os.environ.get("ZTAD_PUBLIC_HOLIDAYS", "").strip().lower() in ("1", "true", "yes", "on")
    return holiday_settings(public, os.environ.get("ZTAD_COMPANY_HOLIDAYS"))
