"""``POST /predict``: events in the canonical schema in, one prediction per event out.

The events of one request are judged together, like one day of the nightly job, by
:func:`ztad.pipeline.scoring.score_events`: same features, model, rules, suppression,
reasons and top features. A bad event is refused with its position, field and reason, the
same checks (:func:`ztad.ingest.validation.validate`) that quarantine a bad log row.

One thing is cheaper by default: the Isolation Forest's share of an alert's top features
comes from path attributions (``tree_path``, well under a millisecond per alert), which the
nightly job uses beyond its 250 highest-scored findings, not from exact TreeSHAP
(``tree_shap``, tens of milliseconds per alert). ``explain=exact`` asks for the nightly job's
rule; each alert says which method its top features rest on (``attribution_method``).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress, WithJsonSchema, WrapValidator

#: The most events one request may carry.
MAX_BATCH = 10_000
#: How an alert's top features are attributed: ``path`` for every alert (fast, the default),
#: or ``exact`` as the nightly job does (exact TreeSHAP for the highest-scored alerts).
EXPLAIN_MODES = ("path", "exact")


#: At least one character that is not white space (as Python's ``str.strip`` sees it).
NOT_BLANK = r"[^\s\x00\x1c-\x1f\x85]"
#: Text without a NUL character (the database cannot store one; a log row with one is quarantined).
NO_NUL = r"^[^\x00]*$"
#: Text with something in it, and no NUL character.
FILLED_TEXT = rf"^[^\x00]*{NOT_BLANK}[^\x00]*$"
#: Text an event's fields hold.
Text = Annotated[str, Field(pattern=NO_NUL)]
#: ``login_success`` as the log readers accept it.
LoginSuccess = bool | Literal[0, 1, "0", "1", "true", "false", "True", "False", "TRUE", "FALSE"]


#: A dotted-quad IPv4 address as its normal form writes it (no leading zeros, ASCII digits).
_NORMAL_IPV4 = re.compile(r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}")


def _normal_ipv4_as_given(value, parse):
    """An IPv4 address already in its normal form, kept as the text it is; anything else
    parsed as ``IPvAnyAddress`` would (the same value, or the same error).

    Nearly every event carries one: parsing it into an address object and writing that back
    as text cost a few microseconds an event in Python, most of a large request's validation.
    """
    if type(value) is str and _NORMAL_IPV4.fullmatch(value):
        return value
    return parse(value)


#: An address, or none: the schema says so with the standard ``ipv4`` / ``ipv6`` formats.
Address = Annotated[
    IPvAnyAddress | Literal["-"] | None,
    WrapValidator(_normal_ipv4_as_given),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "ipv4"},
                {"type": "string", "format": "ipv6"},
                {"type": "string", "enum": ["-"]},
                {"type": "null"},
            ]
        }
    ),
]


class Event(BaseModel):
    """One authentication event, in the origin's column names (``resource`` also accepted)."""

    model_config = ConfigDict(extra="forbid")

    timestamp: datetime = Field(
        description="ISO 8601; without a zone it is UTC", examples=["2026-03-18T09:15:00Z"]
    )
    user_id: str = Field(min_length=1, max_length=256, pattern=FILLED_TEXT, examples=["u00042"])
    ip_address: Address = Field(None, description="IPv4 or IPv6; null or '-' when the source has none")
    login_success: LoginSuccess = Field(description="true/false, 1/0")
    device_id: Text | None = None
    location: Text | None = Field(None, examples=["Madrid, Spain"])
    resource_accessed: Text | None = None
    resource: Text | None = None
    bytes_transferred: int | None = Field(None, ge=0, le=2**53 - 1)  # exact in JSON numbers
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    department: Text | None = None
    asn: int | None = Field(None, ge=0, lt=2**32)
    as_org: Text | None = None
    auth_method: Text | None = Field(None, examples=["password", "publickey"])
    event_id: Text | None = None


class Batch(BaseModel):
    """Several events, judged together like one day."""

    model_config = ConfigDict(extra="forbid")

    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH)


class Prediction(BaseModel):
    """The verdict on one event, with what the nightly finding would have said."""

    event_id: str
    user_id: str
    timestamp: str
    score: float = Field(description="final score: the ensemble's, lifted above the threshold by a rule hit")
    threshold: float
    decision: str = Field(description="alert, suppressed (an analyst's false positive covers it) or normal")
    severity: int | None = Field(None, description="0-100, for alerts")
    severity_level: str | None = None
    category: str | None = None
    reasons: list[dict[str, Any]] = Field(description="{code, text} per reason, for alerts")
    top_features: list[dict[str, Any]] = Field(
        description="features behind an alert, with the user's baseline"
    )
    detectors: list[str] = Field(description="sources that raised it: ensemble, rule:<code>")
    attribution_method: str | None = Field(
        None,
        description="for alerts, how the Isolation Forest's attributions behind top_features were "
        "computed: tree_path (path attributions) or tree_shap (exact TreeSHAP), as the nightly "
        "finding records it",
    )
    cold_start: bool = Field(
        description="the user has no history yet: judged against peers and the organisation"
    )
    maturity: float = Field(description="how far the user's own history is trusted, 0 new to 1 mature")
    model_version: str


class Predictions(BaseModel):
    """The predictions of a request, in the order of its events."""

    model_version: str
    baseline_day: str = Field(description="the day judged as: the baseline holds the days before it")
    threshold: float
    predictions: list[Prediction]


class BadEventError(ValueError):
    """An event failed validation: ``index`` (0-based), ``field`` and ``reason``."""

    def __init__(self, index: int, field: str, reason: str):
        super().__init__(f"event {index}: {field}: {reason}")
        self.index, self.field, self.reason = index, field, reason


#: Names pydantic gives the members of a union in an error's location (``Batch | Event``, the
#: types of ``login_success``): not fields, so left out of the locations a client reads.
_UNION_TAGS = {"Batch", "Event", "bool", "int", "str", "float", "none"}


def readable_errors(errors: list[dict], body) -> list[dict]:
    """Validation errors with locations that name fields only (``body, events, 3, ip_address``).

    A body is either a batch or one event: only the errors of the shape it has are kept
    (one with ``events`` is a batch), each location once.
    """
    batch = isinstance(body, dict) and "events" in body
    out, seen = [], set()
    for error in errors:
        loc = list(error.get("loc", ()))
        if len(loc) > 1 and loc[0] == "body" and loc[1] in ("Batch", "Event") and (loc[1] == "Batch") != batch:
            continue
        loc = [part for part in loc if not (isinstance(part, str) and (part in _UNION_TAGS or "[" in part))]
        if tuple(loc) in seen:
            continue
        seen.add(tuple(loc))
        out.append({"loc": loc, "msg": error.get("msg", ""), "type": error.get("type", "value_error")})
    return out


def events_frame(events: list[Event]) -> pd.DataFrame:
    """Canonical events from the request, or :class:`BadEventError` for the first bad one.

    The columns are taken from the validated models as they are (times already parsed, numbers
    already numbers) rather than written back to JSON text and parsed again. What the checks a
    log row goes through (:func:`ztad.ingest.validation.validate`) would still change is done on
    the values directly (:func:`ztad.service.request_events.canonical_events`); a request some
    event of which those checks refuse goes through them, for the same error.
    """
    from ztad.ingest.validation import validate
    from ztad.service.request_events import canonical_events

    fields = _field_values(events)
    canonical = canonical_events(fields)
    if canonical is not None:
        return canonical
    canonical, quarantine = validate(_input_frame(fields), "request")
    if len(quarantine):
        first = quarantine.iloc[0]
        raise BadEventError(int(first["source_row"]) - 1, str(first["field"]), str(first["reason"]))
    return canonical


#: Event fields that are text, in the order a frame of them is built.
_TEXT_FIELDS = ("user_id", "device_id", "location", "department", "as_org", "auth_method", "event_id")
#: Event fields that are numbers (``None`` where not given).
_NUMBER_FIELDS = ("bytes_transferred", "latitude", "longitude", "asn")
#: Input columns every frame has, given or not.
_ALWAYS = ("timestamp", "user_id", "ip_address", "login_success")


def request_frame(events: list[Event]) -> pd.DataFrame:
    """The events as a frame of log input columns: one column per field some event gives, typed
    (UTC times, numbers, flags) where the request's models hold typed values.

    The fields are read off the models in one pass and turned into columns at once (text by
    Arrow), rather than one Python list and one pandas conversion after another per field.
    """
    return _input_frame(_field_values(events))


def _input_frame(fields: dict[str, tuple]) -> pd.DataFrame:
    """:func:`request_frame` of the events' field values."""
    from ztad.service.request_events import given_resources

    columns: dict[str, Any] = {"timestamp": utc_times(fields["timestamp"])}
    for name in _TEXT_FIELDS:
        values = fields[name]
        if name in _ALWAYS or any(v is not None for v in values):
            columns[name] = _text_array(values)
    addresses = [None if a is None else str(a) for a in fields["ip_address"]]
    columns["ip_address"] = _text_array(addresses)
    flags = list(fields["login_success"])
    columns["login_success"] = flags if all(type(f) is bool for f in flags) else pd.array(flags, dtype=object)
    given = given_resources(fields)
    if any(v is not None for v in given):
        columns["resource_accessed"] = _text_array(given)
    for name in _NUMBER_FIELDS:
        values = fields[name]
        if any(v is not None for v in values):
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return pd.DataFrame(columns)


#: Every field of an event, in the order :class:`Event` declares them.
_EVENT_FIELDS = tuple(Event.model_fields)


def _field_values(events: list[Event]) -> dict[str, tuple]:
    """Each field's values over the events, in event order."""
    from operator import attrgetter

    rows = list(map(attrgetter(*_EVENT_FIELDS), events))
    if not rows:
        return {name: () for name in _EVENT_FIELDS}
    return dict(zip(_EVENT_FIELDS, zip(*rows)))


def _text_array(values) -> pd.api.extensions.ExtensionArray:
    """Text (``str`` or ``None``) as ``pd.array(values, dtype="string")`` holds it."""
    import pyarrow as pa

    return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))


def utc_times(times: list[datetime]) -> pd.DatetimeIndex:
    """What ``pandas.to_datetime(times, utc=True)`` gives for datetimes (one without a zone is
    UTC), converted by Arrow: pandas reads datetime objects one by one, a millisecond per
    thousand events."""
    import pyarrow as pa

    micros = pa.array(times, type=pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()
    return pd.DatetimeIndex(micros.view("datetime64[us]")).tz_localize("UTC")


#: A prediction's fields, in the order :class:`Prediction` declares them.
PREDICTION_FIELDS = tuple(Prediction.model_fields)
#: What a prediction says in place of a finding for an event that is not an alert: severity,
#: severity level, category, reasons, top features, detectors, attribution method (the empty
#: lists as tuples, written alike but shared by every row without being changed through one).
_NO_FINDING = (None, None, None, (), (), (), None)
#: A prediction as the response writes it, its fields in :class:`Prediction`'s order: one is
#: made from a row's values in one call, a tenth of the time a dict of them takes (a
#: millisecond per thousand events), and written as the same JSON object.
PredictionRow = msgspec.defstruct("PredictionRow", [(name, object) for name in PREDICTION_FIELDS])


def predictions(scored, state) -> dict:
    """The response document (:class:`Predictions` as plain JSON values, each prediction a
    :data:`PredictionRow`) for :class:`ztad.pipeline.scoring.Scored` events, in their order.

    Built column by column and then row by row from plain Python values, without a model
    object per event. Findings rows are those of the flagged events, in event order (an event
    posted twice is answered twice).
    """
    from itertools import repeat

    from ztad.findings.evidence import column_values  # by position: no Series per column read

    events, frame = scored.events, scored.scored
    flagged = np.asarray(column_values(frame, "flagged"), dtype=bool)
    found = [list(repeat(value, len(events))) for value in _NO_FINDING]  # a column per field
    for position, finding in zip(np.flatnonzero(flagged).tolist(), _finding_rows(scored.findings)):
        for column, value in zip(found, _finding_fields(*finding)):
            column[position] = value
    version = state.model_version
    rows = map(
        PredictionRow,
        column_values(events, "event_id").tolist(),  # text, never missing: every event has an id and a user
        column_values(events, "user_id").tolist(),
        iso_times(events["timestamp"]),
        np.asarray(column_values(frame, "score"), dtype=float).tolist(),
        np.asarray(column_values(frame, "threshold"), dtype=float).tolist(),
        np.where(flagged, "alert", np.where(column_values(frame, "suppressed"), "suppressed", "normal")).tolist(),
        *found,
        np.asarray(scored.cold_start, dtype=bool).tolist(),
        np.asarray(column_values(scored.features, "ctx_maturity"), dtype=float).tolist(),
        repeat(version),
    )
    return {
        "model_version": version,
        "baseline_day": state.day.isoformat(),
        "threshold": float(state.model.threshold),
        "predictions": list(rows),
    }


#: The findings columns a prediction quotes, in the order :func:`_finding_fields` takes them.
_FINDING_COLUMNS = ("severity", "severity_level", "category", "reasons", "top_features", "detectors", "attributions")


def _finding_rows(findings: pd.DataFrame):
    """The findings' :data:`_FINDING_COLUMNS` row by row, as plain Python values (none when
    nothing was flagged): only the columns a prediction quotes are converted."""
    if findings.empty:
        return iter(())
    return zip(*(findings[name].tolist() for name in _FINDING_COLUMNS))


def _finding_fields(severity, level, category, reasons, top_features, detectors, attributions) -> tuple:
    """A flagged event's finding as the prediction fields it fills (see :data:`_NO_FINDING`)."""
    return (
        int(severity),
        str(level),
        _text(category),
        list(reasons),
        _plain(list(top_features)),
        list(detectors),
        _forest_method(attributions),
    )


#: Writes the response document: msgspec writes the very bytes ``pydantic_core.to_json(...,
#: inf_nan_mode="null")`` does (a non-finite number as ``null``), in half the time.
_JSON = msgspec.json.Encoder()


def predictions_json(document: dict) -> bytes:
    """The response document as JSON bytes (a non-finite number as ``null``, as pydantic writes it)."""
    return _JSON.encode(document)


def iso_times(times: pd.Series) -> list[str]:
    """UTC times as ``Timestamp.isoformat`` writes them (``2026-03-18T09:15:00+00:00``, the
    microseconds only when there are some), converted as arrays rather than one by one."""
    values = times.to_numpy("datetime64[us]")
    fractional = values.view("int64") % 1_000_000 != 0
    text = np.datetime_as_string(values, unit="s")
    if fractional.any():  # written twice only when some need their microseconds
        text = np.where(fractional, np.datetime_as_string(values, unit="us"), text)
    return np.char.add(text, "+00:00").tolist()


def score_request(app, events: list[Event], explain: str = "path") -> Predictions:
    """:func:`score_document` as a :class:`Predictions` model (what the dashboard's upload shows)."""
    return Predictions.model_validate(msgspec.to_builtins(score_document(app, events, explain)))


def score_document(app, events: list[Event], explain: str = "path") -> dict:
    """Score events on the nightly code path with ``app``'s state (a :func:`ztad.service.api.create_app`
    app): the :class:`Predictions` document, what ``/predict`` answers.

    ``explain`` is one of :data:`EXPLAIN_MODES`.
    """
    from ztad.findings.attributions import EXACT_SHAP_ROWS
    from ztad.pipeline.scoring import score_events

    if explain not in EXPLAIN_MODES:
        raise ValueError(f"explain must be one of {EXPLAIN_MODES}, not {explain!r}")

    state = app.state.holder.current()
    frame = events_frame(events)
    scored = score_events(
        frame,
        day=state.day,
        model=state.model,
        baseline=state.baseline,
        config=app.state.config,
        allowlist=state.allowlist,
        exact_rows=EXACT_SHAP_ROWS if explain == "exact" else 0,
    )
    app.state.metrics.events.inc(len(frame))
    app.state.metrics.alerts.inc(int(scored.scored["flagged"].sum()))
    return predictions(scored, state)


def _forest_method(attributions) -> str | None:
    """The Isolation Forest's attribution method in a finding's ``attributions`` document."""
    member = (attributions or {}).get("isolation_forest") if isinstance(attributions, dict) else None
    return None if member is None else member.get("method")


def _text(value) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _plain(value):
    """JSON-ready: numpy scalars to Python, non-finite numbers to null."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
