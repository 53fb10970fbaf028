"""The features that compare an event with other users' events of the same day.

Four families look across users within the day: how many distinct users one IP address served
today (``ip_users_today``), how many distinct users one source failed to log in as in the
last hour (``ip_failed_users_60m``, a password spray; its failures are counted in
``ctx_ip_failures_60m``); what each address did today, to tell the internet's background
scanning (:mod:`ztad.behaviour.features.scanning`); and how many peers surged on the same
resource that day (``ctx_peer_surge_users``, a month-end close rather than an exfiltration).
Every other feature depends only on the event's own user, that
user's events of the day and the baseline.

A day scored in shards of users (:mod:`ztad.pipeline.sharding`) or computed a part of its users
at a time (:mod:`ztad.behaviour.features.user_parts`) cannot count across users inside one
part. :func:`cross_user_signals` computes these counts once over the whole day; each part
passes its rows of them to :func:`ztad.behaviour.features.compute_features` (``cross_user=``)
and gets exactly the features that the whole day would give.

The counts need little of each event: a few codes, its time and a few flags, some of them
judged against the baseline (a source foreign to the user, a transfer ten times the usual).
:class:`CrossUserInputs` works those out a part of the users at a time and keeps only them, as
narrow arrays, so that neither the day's events nor a context of all of them is held while the
day is counted across users.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from ztad.behaviour.baselines import BaselineState
from ztad.behaviour.features import volume
from ztad.behaviour.features.context import as_text, build_context
from ztad.behaviour.features.device import distinct_per_group
from ztad.behaviour.features.failures import foreign, spray_peaks
from ztad.behaviour.features.scanning import address_activity, real_accounts, scanned_names
from ztad.behaviour.features.shared_counts import CROSS_USER_COLUMNS
from ztad.config import DetectionConfig, FeatureSettings

#: The rows of one part of a day: positions in the day (a slice or an array of positions).
Rows = slice | np.ndarray


def cross_user_signals(
    events: pd.DataFrame,
    baseline: BaselineState,
    config: DetectionConfig,
    settings: FeatureSettings | None = None,
    *,
    parts: Iterable[np.ndarray] | None = None,
) -> pd.DataFrame:
    """The cross-user counts of a whole day's events.

    Parameters
    ----------
    events, baseline, config, settings
        As for :func:`ztad.behaviour.features.compute_features`, with ALL the day's events.
    parts
        Row positions of parts of the day that each hold every event of their users
        (:func:`ztad.behaviour.features.user_parts.part_order`): each part's inputs are worked
        out on its own. The whole day is one part when ``None``.

    Returns
    -------
    pandas.DataFrame
        Same index and order as ``events``; columns :data:`CROSS_USER_COLUMNS` (users the
        event's IP served today; failures of its IP in the spray window and the distinct users
        they were against; its address's attempts, minutes and scanner look today; peers who
        surged on its resource), counts as 32-bit integers and the scanner look as a flag
        (read back in the families' types by :func:`ztad.behaviour.features.shared_counts.share`).
    """
    pieces = [(slice(None), events)] if parts is None else ((rows, events.iloc[rows]) for rows in parts)
    return signals_of_parts(len(events), pieces, baseline, config, settings, events.index)


def signals_of_parts(
    rows: int,
    parts: Iterable[tuple[Rows, pd.DataFrame]],
    baseline: BaselineState,
    config: DetectionConfig,
    settings: FeatureSettings | None = None,
    index: pd.Index | None = None,
) -> pd.DataFrame:
    """The cross-user counts of a day of ``rows`` events given as ``parts``: pairs of the
    day's rows and their events, each part every event of its users. Each part's inputs are
    worked out as it comes (:class:`CrossUserInputs`), so a part can be read, or released,
    just before or after; the counts are on ``index`` (0..n-1 by default)."""
    settings = settings or FeatureSettings()
    inputs = CrossUserInputs(rows)
    for part_rows, part_events in parts:
        inputs.add(part_rows, part_events, baseline, config, settings)
    return inputs.signals(settings, index)


class CrossUserInputs:
    """What the cross-user counts need of each event of a day, added a part of its users at
    a time (:meth:`add`) and counted once every part is in (:meth:`signals`).

    Text (users, addresses, sources, resources) is kept as codes into each part's own distinct
    values, made codes of the day once every part is in: equal text, equal code, whatever the
    part. Flags that depend on the user's own events (a transfer's surge) or on the baseline
    (a source foreign to its user) are worked out from the part's own context, which holds
    every event of its users.
    """

    _TEXT = ("user", "ip", "source", "resource")
    _FLAGS = ("failed", "guessed_foreign", "known", "scanned", "seen", "surged")

    def __init__(self, rows: int):
        self.rows = rows
        self.text = {name: _TextCodes(rows) for name in self._TEXT}
        self.micros = np.zeros(rows, dtype="int64")
        self.peer = np.full(rows, -1, dtype="int32")
        self.flags = {name: np.zeros(rows, dtype=bool) for name in self._FLAGS}

    def add(
        self, rows: Rows, events: pd.DataFrame, baseline: BaselineState, config: DetectionConfig,
        settings: FeatureSettings,
    ) -> None:
        """Work out the inputs of one part of the day: ``events`` are the day's rows ``rows``,
        every event of their users."""
        ctx = build_context(events, baseline, config, settings)
        sources = ctx.sources
        for name, values in (("user", ctx.text("user_id")), ("ip", ctx.text("ip_address")),
                             ("source", sources), ("resource", ctx.text("resource"))):
            self.text[name].add(rows, values)
        self.micros[rows] = ctx.micros
        self.peer[rows] = ctx.peer
        flags = self.flags
        flags["failed"][rows] = ctx.failed
        flags["guessed_foreign"][rows] = ctx.guessed & foreign(ctx, sources)
        flags["known"][rows] = ctx.known_user
        flags["scanned"][rows] = scanned_names(ctx)
        flags["seen"][rows] = ctx.org_users("ip") > 0
        flags["surged"][rows] = volume.bytes_log_ratio(ctx) >= volume.SURGE_LOG_RATIO

    def signals(self, settings: FeatureSettings, index: pd.Index | None = None) -> pd.DataFrame:
        """The day's cross-user counts (:data:`CROSS_USER_COLUMNS`), row-aligned with the
        rows added, on ``index`` (0..n-1 by default). The inputs are spent: each is released
        once the counts that need it are made."""
        codes = {name: text.day_codes() for name, text in self.text.items()}
        self.text = {}
        users, flags = codes.pop("user"), self.flags
        out = {"ip_users_today": distinct_per_group(codes["ip"], users)}
        out["ip_failures_60m"], out["ip_failed_users_60m"] = spray_peaks(
            codes.pop("source"), self.micros, users, flags.pop("guessed_foreign"), settings
        )
        real = real_accounts(flags.pop("known"), flags.pop("scanned"), flags["failed"], users)
        failed, seen = flags.pop("failed"), flags.pop("seen")
        activity = address_activity(codes.pop("ip"), self.micros, failed, real, seen)
        out["source_attempts_today"], out["source_minutes_today"], out["source_scanner_like"] = activity
        del real, failed, seen, activity
        surged = flags.pop("surged")
        out["peer_surge_users"] = volume.peer_surges(self.peer, codes.pop("resource"), users, surged)
        self.micros = self.peer = None
        frame = pd.DataFrame({name: _narrow(name, out.pop(name)) for name in CROSS_USER_COLUMNS}, copy=False)
        if index is not None:
            frame.index = index
        return frame


#: The counts kept narrower than the families read them (:data:`CROSS_USER_DTYPES`), exactly:
#: counts of events, users or addresses of a day fit 32 bits, and the scanner look is 0 or 1.
_NARROW = {
    "ip_users_today": "int32", "ip_failures_60m": "int32", "ip_failed_users_60m": "int32",
    "source_attempts_today": "int32", "source_scanner_like": "bool", "peer_surge_users": "int32",
}


def _narrow(name: str, values: np.ndarray) -> np.ndarray:
    """A day's count in its narrow type (:data:`_NARROW`), checked to be exact."""
    narrow = _NARROW.get(name)
    if narrow is None:
        return values
    kept = values.astype(narrow)
    if not np.array_equal(kept.astype(values.dtype), values):
        raise ValueError(f"cross-user count {name} does not fit {narrow}")
    return kept


class _TextCodes:
    """Codes of one text column of a day given a part at a time: each part's values are
    encoded against the part's own distinct values, kept as Arrow text, and those are
    encoded once more when the day is complete (:meth:`day_codes`). Equal text gets equal
    codes in every part; -1 stands for a missing value."""

    def __init__(self, rows: int):
        self.codes = np.full(rows, -1, dtype="int32")
        self.values: list[pa.Array] = []
        self.held = 0

    def add(self, rows: Rows, values: pd.Series) -> None:
        """Encode the part's ``values`` (text), the day's rows ``rows``."""
        text = _arrow_text(values)
        encoded = text.dictionary_encode(null_encoding="mask")
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        if encoded.null_count:
            codes = np.where(np.isnan(codes), -1, codes + self.held)
        else:
            codes = codes + self.held
        self.codes[rows] = codes
        self.values.append(encoded.dictionary)
        self.held += len(encoded.dictionary)

    def day_codes(self) -> np.ndarray:
        """The day's codes (int32; -1 for a missing value): the distinct values of every part
        encoded once more, so that the same text in two parts has one code."""
        if not self.values:
            return self.codes
        distinct = pa.chunked_array(self.values, type=pa.large_string()).combine_chunks()
        self.values = []
        day = distinct.dictionary_encode().indices.to_numpy().astype("int32")
        codes, self.codes = self.codes, None
        present = codes >= 0
        codes[present] = day[codes[present]]
        return codes


def _arrow_text(values: pd.Series) -> pa.Array:
    """A text column as one Arrow ``large_string`` array (nulls kept)."""
    values = as_text(values)
    text = pa.array(values.array) if values.dtype.storage == "pyarrow" else pa.array(
        values.to_numpy(dtype=object, na_value=None), type=pa.large_string()
    )
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    return text.cast(pa.large_string())

