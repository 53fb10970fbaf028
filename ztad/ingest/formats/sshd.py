"""SSH logins from Linux ``auth.log`` / ``secure`` files (sshd's syslog lines).

Each line is ``<timestamp> <host> <program>[<pid>]: <message>``, with either the classic
syslog timestamp ``Mar  2 08:15:04`` or an RFC 3339 one (rsyslog's high-precision format,
``2026-03-02T08:15:04.123456+01:00``). The host that wrote the line is the host logged into,
so it becomes the event's ``resource_accessed``.

What becomes an event
---------------------
* ``Accepted <method> for U from IP port P`` -> a success. For public keys the key's type and
  fingerprint become ``device_id`` (the closest thing sshd logs to a client device).
* ``Failed <method> for [invalid user] U from IP port P`` -> a failure (one per attempt).
  ``Failed none`` is the protocol's probe for "no authentication needed", not a credential,
  and is skipped.
* ``auth_method`` is the method (``password``, ``publickey``, ``keyboard-interactive``,
  ``hostbased``...): a refused public key is a client offering its keys, not a password
  guess, and the failure rules leave it out (:data:`ztad.schema.KEY_METHODS`).
* An empty user name (``Failed password for invalid user  from``, a common scanner probe)
  or none (PAM omits ``user=`` for unknown accounts) becomes :data:`EMPTY_USER`: an attempt on
  an unknown account, not a bad row.
* Notices that sshd writes around an attempt: ``Invalid user U from IP``, ``User U from IP
  not allowed because ...``, PAM's ``pam_unix(sshd:auth): authentication failure; ...
  rhost=IP user=U`` (a password attempt), ``error: maximum authentication attempts exceeded
  for U from IP`` and ``Connection closed by`` / ``Disconnected from`` / ``Disconnecting``
  ``authenticating|invalid user U IP port P [preauth]``. A notice becomes a failure only when
  the same sshd process (host, pid, IP) logged no ``Accepted``/``Failed`` line within
  ``login_grace_time`` of it: then it is the only trace of the attempt (a scanner that
  disconnects after naming a user, a connection that hit ``MaxAuthTries`` on keys, or sshd's
  own lines silenced by ``LogLevel``), and of several such notices of one process only the
  first counts. Each attempt is counted once, however many programs logged it.
* ``message repeated N times: [ ... ]`` (rsyslog's duplicate reduction) counts N times.

Every other line (session open/close, logouts, other programs, notices of an attempt already
counted, ``Failed none``) is not an authentication attempt: it is skipped without quarantine
and counted (``RawBatch.skipped``). A line that starts like an authentication message but does
not parse, a syslog timestamp that is not a date, or a line that is not UTF-8 text is
quarantined with its line number. Parsing is vectorised over blocks of lines with RE2 regular
expressions (``pyarrow.compute.extract_regex``).

Options
-------
``year``
    Year of the file's first classic-syslog line (those carry none). Default: inferred from
    ``reference_date``.
``reference_date``
    ``YYYY-MM-DD`` when the file was last written; default: the file's modification time. The
    first line's year is that date's year, or the year before if the first line's month and
    day fall after it (a log is not written in the future).
``timezone``
    IANA zone of the host's clock, for timestamps without an offset (default ``UTC``).
    Wall-clock times that occur twice when clocks go back are read as summer time until the
    clock is seen to jump back, then as standard time.
``login_grace_time``
    Seconds within which all attempts of one SSH connection are logged (sshd's
    ``LoginGraceTime``, 120 by default; default here 600 for margin). A notice is settled,
    counted or dropped, once the log has moved that far past it.
``chunk_bytes``
    Bytes per batch (default 16 MiB).

Years advance across New Year: when consecutive lines jump back by more than half a year
(``Dec 31`` -> ``Jan 1``) the year increments; a late line that jumps forward by more than
half a year (``Jan 1`` -> ``Dec 31``) belongs to the previous year.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import timezone as dt_timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ztad.ingest.options import SourceOptionError, chunk_bytes, option_int, option_str, option_timezone
from ztad.ingest.readers import RawBatch, open_binary
from ztad.ingest.streaming.blocks import iter_line_blocks
from ztad.ingest.streaming.output import (
    batch,
    concat_quarantine,
    localize,
    parse_times,
    quarantine_records,
    stable_ids,
)

#: Classic syslog timestamp, fixed width: ``Mar  2 08:15:04`` then one space.
CLASSIC_STAMP = r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d "
CLASSIC_WIDTH = 16
ISO_LINE = (
    r"^(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:[zZ]|[+-]\d\d:?\d\d)?) (?P<rest>.*)"
)
#: After the timestamp: ``host sshd[pid]: `` and the start of an authentication message.
AUTH_START = (
    r"^\S+ sshd(?:-session|-auth)?(?:\[\d+\])?: (?:message repeated \d+ times: \[\s*)?"
    r"(?:Accepted |Failed |Invalid user |Illegal user |User \S+ from |"
    r"pam_unix\(sshd:auth\): authentication failure|error: maximum authentication attempts exceeded |"
    r"(?:Connection closed by|Disconnected from|Disconnecting) (?:authenticating|invalid) user )"
)
MESSAGE = (
    r"^(?P<host>\S+) \S+?(?:\[(?P<pid>\d+)\])?: (?:message repeated (?P<repeat>\d+) times: \[\s*)?(?:"
    r"(?P<verdict>Accepted|Failed) (?P<method>\S+) for (?:invalid user )?(?P<user>.*?)"
    r" from (?P<ip>\S+) port \d+(?: ssh\d?)?(?:: (?P<keytype>\S+) (?P<keyhash>\S+).*?)?"
    r"|(?:Invalid|Illegal) user (?P<invalid_user>.*?) from (?P<invalid_ip>\S+)(?: port \d+)?"
    r"|User (?P<refused_user>\S+) from (?P<refused_ip>\S+) not allowed because .*?"
    r"|(?P<pam>pam_unix)\(sshd:auth\): authentication failure;.*?\brhost=(?P<pam_ip>\S*)"
    r"(?:\s+user=(?P<pam_user>\S*))?.*?"
    r"|error: maximum authentication attempts exceeded for (?:invalid user )?(?P<max_user>.*?)"
    r" from (?P<max_ip>\S+) port \d+(?: ssh\d?)?(?: \[preauth\])?"
    r"|(?:Connection closed by|Disconnected from|Disconnecting) (?:authenticating|invalid) user"
    r" (?P<closed_user>.*?) ?(?P<closed_ip>[0-9A-Fa-f.:]+) port \d+(?::.*?)?(?: \[preauth\])?"
    r")\s*\]?\s*$"
)
#: The user of an attempt that names an empty user (``Failed password for invalid user  from``)
#: or none (PAM omits ``user=`` for unknown accounts): an attempt on an unknown account.
EMPTY_USER = "(empty)"
#: ``auth_method`` of PAM's failure lines: pam_unix checks a password.
PAM_METHOD = "password"
AUTH_ANYWHERE = r"sshd.*(?:(?:Accepted|Failed) \S+ for |Invalid user |authentication failure;)"
MONTHS = pa.array(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])
#: Consecutive lines further apart than this (in month*32+day units, ~6 months) cross a year.
HALF_YEAR = 6 * 32


class YearUnknownError(SourceOptionError):
    """The year of classic syslog timestamps cannot be inferred; set option ``year``."""


@dataclass
class _Clock:
    """What one block leaves for the next: the current year, the last line's month*32+day,
    and the latest wall-clock time seen (seconds), for the summer-time hint."""

    year: int | None
    last_position: int | None = None
    latest_local: int = np.iinfo(np.int64).min


@dataclass
class _Pending:
    """Notices not yet settled, and recent attempts (key and time) to settle them against."""

    grace: pd.Timedelta
    notices: pd.DataFrame | None = None
    attempts: pd.DataFrame = field(default_factory=lambda: _no_attempts())


def _no_attempts() -> pd.DataFrame:
    return pd.DataFrame({"_key": pd.Series(dtype="string"), "timestamp": pd.Series(dtype="datetime64[us, UTC]")})


def read(path: str, options: dict) -> Iterator[RawBatch]:
    """Read an auth.log/secure file; yield one batch of events per block of lines."""
    zone = option_timezone(options)
    clock = _Clock(year=option_int(options, "year", None))
    pending = _Pending(grace=pd.Timedelta(seconds=option_int(options, "login_grace_time", 600)))
    size = chunk_bytes(options)
    with open_binary(path) as stream:
        for block, first_line, _ in iter_line_blocks(stream, size):
            lines, undecodable = _block_lines(block)
            if clock.year is None:
                clock.year = _first_year(lines, path, options, zone)
            events, notices, quarantine, skipped = _parse_block(lines, undecodable, first_line, clock, zone, path)
            events, dropped = _settle_notices(events, notices, pending)
            yield batch(events, quarantine, np.concatenate([skipped, dropped]))
    if pending.notices is not None and len(pending.notices):
        notices, dropped = _first_per_process(pending.notices)
        yield batch(notices.drop(columns="_key").reset_index(drop=True), concat_quarantine([]), dropped)


def _block_lines(block: bytes) -> tuple[pa.StringArray, np.ndarray | None]:
    """The block's lines as an Arrow string array, and which are not UTF-8 (None: all are).

    Bytes that are not UTF-8 are replaced (U+FFFD) so that the block is read; their lines are
    quarantined.
    """
    try:
        text = block.decode("utf-8")
        broken = False
    except UnicodeDecodeError:
        text, broken = block.decode("utf-8", errors="replace"), True
    text = text.replace("\r\n", "\n")
    lines = pc.split_pattern(pa.array([text], type=pa.large_string()), "\n").flatten()
    if text.endswith("\n"):
        lines = lines.slice(0, len(lines) - 1)
    lines = lines.cast(pa.string())
    return lines, (_matches(lines, "\ufffd") if broken else None)


@dataclass
class _Lines:
    """One block's lines split into timestamp parts and the rest (``host program: msg``)."""

    text: pa.StringArray
    rows: np.ndarray
    classic: np.ndarray
    iso: pa.Array | None
    rest: pa.Array

    @property
    def dated(self) -> np.ndarray:
        if self.iso is None:
            return self.classic
        return self.classic | pc.is_valid(self.iso).to_numpy(zero_copy_only=False)


def _split_lines(text: pa.StringArray, first_line: int) -> _Lines:
    """Cut the timestamp off each line with fixed-width slices or, for RFC 3339, a regex."""
    rows = np.arange(first_line, first_line + len(text), dtype=np.int64)
    classic = _matches(text, CLASSIC_STAMP)
    rest = pc.utf8_slice_codeunits(text, CLASSIC_WIDTH)
    if classic.all():
        return _Lines(text, rows, classic, None, rest)
    parts = pc.extract_regex(text, ISO_LINE)
    # A struct's fields do not carry the struct's nulls: mask lines that did not match.
    iso_only = pa.array(pc.is_valid(parts).to_numpy(zero_copy_only=False) & ~classic)
    none = pa.scalar(None, pa.string())
    iso = pc.if_else(iso_only, parts.field("iso"), none)
    rest = pc.if_else(pa.array(classic), rest, pc.if_else(iso_only, parts.field("rest"), none))
    return _Lines(text, rows, classic, iso, rest)


def _parse_block(text, undecodable, first_line: int, clock: _Clock, zone: str, source: str):
    """Events, notices, quarantine records and skipped line numbers of one block of lines."""
    lines = _split_lines(text, first_line)
    local, summer = _classic_local_times(lines, clock)
    candidate = _matches(lines.rest, AUTH_START)
    if undecodable is not None:
        candidate &= ~undecodable
    candidates = np.flatnonzero(candidate)
    parsed = pc.extract_regex(lines.rest.take(candidates), MESSAGE)
    matched = pc.is_valid(parsed).to_numpy(zero_copy_only=False)
    index = candidates[matched]
    frame = _auth_frame(parsed.filter(matched), lines, index, local, summer, zone)
    bad_time = frame["timestamp"].isna().to_numpy()
    undated = np.flatnonzero(~lines.dated)
    undated = undated[_matches(text.take(undated), AUTH_ANYWHERE)]
    not_text = np.zeros(0, dtype=np.int64) if undecodable is None else np.flatnonzero(undecodable)
    undated = np.setdiff1d(undated, not_text)
    quarantine = concat_quarantine(
        [
            _quarantine_lines(source, lines, not_text, "line", "not UTF-8 text"),
            _quarantine_lines(source, lines, undated, "line", "not a syslog line"),
            _quarantine_lines(
                source, lines, candidates[~matched], "message", "unrecognised sshd authentication message"
            ),
            _quarantine_lines(
                source, lines, index[bad_time], "timestamp", "syslog timestamp is not a valid date and time"
            ),
        ]
    )
    probe = ~frame.pop("_counts").to_numpy()  # "Failed none"
    counted = ~bad_time & ~probe
    frame = _repeat(frame[counted])
    is_notice = frame.pop("_notice").to_numpy()
    frame = frame.drop(columns="raw")
    used = np.zeros(len(text), dtype=bool)
    used[np.concatenate([not_text, undated, candidates[~matched], index])] = True
    used |= ~_matches(text, r"\S")  # blank lines are no records
    used[index[probe & ~bad_time]] = False  # "Failed none": read, not an attempt
    return frame[~is_notice], frame[is_notice], quarantine, lines.rows[~used]


def _quarantine_lines(source: str, lines: _Lines, positions: np.ndarray, field_name: str, reason: str):
    """Quarantine records for the lines at ``positions``."""
    raw = lines.text.take(pa.array(positions, type=pa.int64())).to_pylist()
    return quarantine_records(source, lines.rows[positions], field_name, reason, raw)


def _matches(values, pattern: str) -> np.ndarray:
    found = pc.match_substring_regex(values, pattern)
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


def _auth_frame(parsed, lines: _Lines, index, local, summer, zone: str) -> pd.DataFrame:
    """One row per matched authentication message, with ztad input columns."""
    group = {name: parsed.field(name).to_pandas().astype("string") for name in _MESSAGE_GROUPS}
    verdict = group["verdict"]
    is_notice = (verdict == "").to_numpy()
    # Exactly one branch of MESSAGE matches; the groups of the others are empty strings.
    user = sum((group[name] for name in _USER_GROUPS[1:]), group[_USER_GROUPS[0]])
    user = user.mask(user == "", EMPTY_USER)
    ip = sum((group[name] for name in _IP_GROUPS[1:]), group[_IP_GROUPS[0]])
    key = (group["keytype"] + " " + group["keyhash"]).where(group["keyhash"] != "")
    method = group["method"].str.replace(r"/.*$", "", regex=True)
    method = method.mask(group["pam"] != "", PAM_METHOD).replace("", pd.NA)
    take = pa.array(index, type=pa.int64())
    iso = None if lines.iso is None else lines.iso.take(take).to_pandas().astype("string")
    return pd.DataFrame(
        {
            "timestamp": _timestamps(iso, local[index], summer[index], zone),
            "user_id": user,
            "device_id": key,
            "ip_address": ip,
            "login_success": (verdict == "Accepted").to_numpy(),
            "auth_method": method,
            "resource_accessed": group["host"],
            "bytes_transferred": np.zeros(len(index), dtype=np.int64),
            "source_row": lines.rows[index],
            "raw": lines.text.take(take).to_pandas().astype("string"),
            "_repeat": _repeat_counts(parsed.field("repeat")),
            "_notice": is_notice,
            "_counts": ~((verdict == "Failed") & (group["method"] == "none")).to_numpy(),
            "_key": group["host"] + "|" + group["pid"] + "|" + ip,
        }
    )


_USER_GROUPS = ("user", "invalid_user", "refused_user", "pam_user", "max_user", "closed_user")
_IP_GROUPS = ("ip", "invalid_ip", "refused_ip", "pam_ip", "max_ip", "closed_ip")
_MESSAGE_GROUPS = ("host", "pid", "verdict", "method", "keytype", "keyhash", "pam", *_USER_GROUPS, *_IP_GROUPS)


def _repeat_counts(text) -> np.ndarray:
    counts = _digits(text)
    return np.where(np.isnan(counts), 1, counts).astype(np.int64)


def _repeat(frame: pd.DataFrame) -> pd.DataFrame:
    """Expand ``message repeated N times`` rows into N events with distinct ids."""
    counts = frame.pop("_repeat").to_numpy()
    if (counts != 1).any():
        frame = frame.loc[frame.index.repeat(counts)]
        occurrence = frame.groupby(level=0).cumcount().to_numpy()
    else:
        occurrence = np.zeros(len(frame), dtype=np.int64)
    frame = frame.reset_index(drop=True)
    ids = pd.DataFrame({"raw": frame["raw"], "row": frame["source_row"], "n": occurrence})
    frame["event_id"] = stable_ids("sshd:", ids)
    return frame


def _timestamps(iso: pd.Series | None, local: np.ndarray, summer: np.ndarray, zone: str) -> pd.Series:
    """UTC timestamps: RFC 3339 text where present, else the classic local wall-clock time."""
    utc = np.full(len(local), np.datetime64("NaT"), dtype="datetime64[us]")
    has_iso = np.zeros(len(local), dtype=bool) if iso is None else iso.notna().to_numpy()
    if has_iso.any():
        parsed = parse_times(iso[has_iso].str.replace(",", ".", regex=False), zone)
        utc[has_iso] = _naive_utc(parsed)
    classic = ~has_iso & ~np.isnat(local)
    if classic.any():
        naive = pd.Series(local[classic]).astype("datetime64[us]")
        utc[classic] = _naive_utc(localize(naive, zone, summer[classic]))
    return pd.Series(utc).dt.tz_localize("UTC")


def _naive_utc(times: pd.Series) -> np.ndarray:
    """UTC times as a plain datetime64[us] array (no per-element Timestamp objects)."""
    return times.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")


def _classic_local_times(lines: _Lines, clock: _Clock) -> tuple[np.ndarray, np.ndarray]:
    """Local wall-clock times of classic syslog lines (NaT otherwise), and summer-time hints.

    The hint is True until a wall-clock time runs backwards: in the hour that occurs twice
    when clocks go back, lines are summer time until the clock is seen to repeat.
    """
    # CLASSIC_STAMP guarantees digits at these fixed positions of classic lines.
    text = pc.if_else(pa.array(lines.classic), lines.text, pa.scalar(None, pa.string()))
    month = _numbers(pc.add(pc.index_in(pc.utf8_slice_codeunits(text, 0, 3), value_set=MONTHS), 1))
    day = _numbers(pc.cast(pc.utf8_trim_whitespace(pc.utf8_slice_codeunits(text, 4, 6)), pa.int64()))
    hms = [_numbers(pc.cast(pc.utf8_slice_codeunits(text, i, i + 2), pa.int64())) for i in (7, 10, 13)]
    ok = lines.classic & (hms[0] < 24) & (hms[1] < 60) & (hms[2] < 61)
    seconds = np.where(ok, hms[0] * 3600 + hms[1] * 60 + np.minimum(hms[2], 59), np.nan)
    dated = lines.classic & ~np.isnan(month) & ~np.isnan(day)
    years = _years(np.where(dated, month * 32 + day, np.nan), clock)
    local = _compose(years, month, day, seconds)
    ticks = local.astype(np.int64)
    ticks = np.where(np.isnat(local), np.iinfo(np.int64).min, ticks)
    before = np.maximum.accumulate(np.concatenate([[clock.latest_local], ticks]))
    clock.latest_local = int(before[-1])
    return local, ticks >= before[:-1]


def _digits(text) -> np.ndarray:
    """Decimal text as float64, NaN where it is not a number."""
    present = pc.if_else(pc.match_substring_regex(text, r"^\d+$"), text, pa.scalar(None, pa.string()))
    return _numbers(pc.cast(present, pa.int64()))


def _numbers(values) -> np.ndarray:
    """An Arrow integer array as float64 with NaN for nulls."""
    return values.to_numpy(zero_copy_only=False).astype(float)


def _years(position: np.ndarray, clock: _Clock) -> np.ndarray:
    """Year of each line from its month*32+day position, stepping to the nearest year."""
    known = ~np.isnan(position)
    years = np.full(len(position), np.nan)
    if not known.any():
        return years
    values = position[known]
    start = values[0] if clock.last_position is None else clock.last_position
    jump = np.diff(values, prepend=start)
    step = (jump < -HALF_YEAR).astype(np.int64) - (jump > HALF_YEAR).astype(np.int64)
    years[known] = clock.year + np.cumsum(step)
    clock.year = int(years[known][-1])
    clock.last_position = int(values[-1])
    return years


def _compose(years, month, day, seconds) -> np.ndarray:
    """datetime64[s] values from year/month/day/seconds arrays; NaT where not a real date."""
    ok = ~(np.isnan(years) | np.isnan(month) | np.isnan(day) | np.isnan(seconds))
    y = np.where(ok, years, 1970).astype(np.int64)
    mo = np.where(ok, month, 1).astype(np.int64)
    d = np.where(ok, day, 1).astype(np.int64)
    month_start = ((y - 1970) * 12 + mo - 1).astype("datetime64[M]")
    first_day = month_start.astype("datetime64[D]")
    days_in_month = ((month_start + 1).astype("datetime64[D]") - first_day).astype(np.int64)
    ok &= (d >= 1) & (d <= days_in_month)
    moment = (first_day + (d - 1)).astype("datetime64[s]") + np.where(ok, seconds, 0).astype(np.int64)
    return np.where(ok, moment, np.datetime64("NaT", "s"))


def _first_year(text, path: str, options: dict, zone: str) -> int | None:
    """The year of the first classic line, from ``reference_date`` or the file's mtime.

    None while no classic line has been seen (RFC 3339 lines need no year).
    """
    classic = np.flatnonzero(_matches(text, CLASSIC_STAMP))
    if not len(classic):
        return None
    reference = _reference_date(path, options, zone)
    stamp = text[int(classic[0])].as_py()
    first = (MONTHS.index(stamp[:3]).as_py() + 1, int(stamp[4:6]))
    return reference.year if first <= (reference.month, reference.day) else reference.year - 1


def _reference_date(path: str, options: dict, zone: str) -> date:
    text = option_str(options, "reference_date")
    if text:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise SourceOptionError(f"option 'reference_date' must be YYYY-MM-DD, not {text!r}") from None
    modified = _modification_time(path)
    if modified is None:
        raise YearUnknownError(
            f"{path}: syslog timestamps carry no year and the file's modification time is "
            "unknown; set the sshd option 'year' (year of the first line) or 'reference_date'"
        )
    return pd.Timestamp(modified).tz_convert(zone).date()


def _modification_time(path: str) -> datetime | None:
    """The file's modification time (UTC) through fsspec, or None if the store has none."""
    import fsspec

    fs, target = fsspec.core.url_to_fs(path)
    info = fs.info(target)
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, tz=dt_timezone.utc)
        stamp = pd.Timestamp(value)
        return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()
    return None


def _settle_notices(events: pd.DataFrame, notices: pd.DataFrame, pending: _Pending):
    """Drop notices whose sshd process (host, pid, IP) also logged an attempt.

    sshd drops a connection that has not authenticated within ``LoginGraceTime``, so every
    attempt of a connection lies within that time of its notices: a notice is settled once
    the log has moved ``login_grace_time`` past it. Until then it is held back; attempts are
    remembered for twice that time. Of several notices of one process without an attempt
    (``Invalid user``, then ``Connection closed by invalid user``), the first counts.

    Returns this block's attempts plus the released notices, and the line numbers of the
    notices dropped (read, but no attempt of their own).
    """
    attempts = events[["_key", "timestamp"]]
    latest = pd.concat([events["timestamp"], notices["timestamp"]]).max()
    if pd.notna(latest):
        recent = pending.attempts[pending.attempts["timestamp"] >= latest - 2 * pending.grace]
        pending.attempts = pd.concat([recent, attempts], ignore_index=True)
    else:
        pending.attempts = pd.concat([pending.attempts, attempts], ignore_index=True)
    waiting = notices if pending.notices is None else pd.concat([pending.notices, notices], ignore_index=True)
    keys = pa.array(pending.attempts["_key"], type=pa.string()).unique()
    repeated = _isin(waiting["_key"], keys)
    dropped = [waiting["source_row"].to_numpy()[repeated]]
    waiting = waiting[~repeated]
    settled = np.zeros(len(waiting), dtype=bool)
    if pd.notna(latest):
        settled = (waiting["timestamp"] + pending.grace < latest).to_numpy()
    pending.notices = waiting[~settled]
    released, also_dropped = _first_per_process(waiting[settled])
    dropped.append(also_dropped)
    pending.attempts = pd.concat([pending.attempts, released[["_key", "timestamp"]]], ignore_index=True)
    out = pd.concat([released, events], ignore_index=True) if len(released) else events
    return out.drop(columns="_key").reset_index(drop=True), np.concatenate(dropped).astype(np.int64)


def _first_per_process(notices: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The first notice of each sshd process (key), and the line numbers of the others."""
    later = notices["_key"].duplicated(keep="first").to_numpy()
    return notices[~later], notices["source_row"].to_numpy()[later].astype(np.int64)


def _isin(values: pd.Series, keys: pa.Array) -> np.ndarray:
    """Membership test in Arrow (pandas' isin on Arrow strings goes through Python)."""
    found = pc.is_in(pa.array(values, type=pa.string()), value_set=keys)
    return found.to_numpy(zero_copy_only=False)
