"""Where a login attempt came from: its client IP address, else the workstation that sent it.

Password sprays and brute force are judged per source. Most logs name the client's address,
but some sign-ins carry none: Windows NTLM credential validation (event 4776) names only the
workstation the attempt came from, and so do local logons. For those the workstation, which
ztad keeps as ``device_id``, is the source. Its label says so ("workstation WS042"), so it
never passes for an address in findings, incidents or SQL.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ztad.behaviour.baselines.arrays import few_texts

WORKSTATION_PREFIX = "workstation "

#: Text as canonical events hold it: such a column is used as it is, not converted again.
_TEXT = pd.StringDtype()


def attempt_sources(ip_address: pd.Series, device_id: pd.Series | None = None) -> pd.Series:
    """Each attempt's source: its IP address, else ``"workstation <device_id>"``, else missing.

    Parameters
    ----------
    ip_address, device_id
        Aligned columns of the attempts; without ``device_id`` the source is the address only.

    Returns
    -------
    pandas.Series
        Strings (``string`` dtype) on the index of ``ip_address``.
    """
    sources = ip_address if ip_address.dtype == _TEXT else ip_address.astype("string")
    if device_id is None or not sources.array.isna().any():  # every attempt has an address
        return sources
    workstations = WORKSTATION_PREFIX + device_id.astype("string")
    return sources.fillna(pd.Series(workstations.to_numpy(), index=sources.index))


def sources_of(frame: pd.DataFrame) -> pd.Series:
    """:func:`attempt_sources` of a frame's ``ip_address`` and ``device_id`` columns; a
    missing column counts as empty."""
    if "ip_address" in frame.columns:
        ips = frame["ip_address"]
    else:
        ips = pd.Series(pd.NA, index=frame.index, dtype="string")
    return attempt_sources(ips, frame.get("device_id"))


def is_workstation(sources: pd.Series) -> pd.Series:
    """True where a source is a workstation rather than an address (False where missing).

    A few sources are read in Python (a prefix of the text is a prefix of its bytes, as Arrow
    compares them): the string methods cost tens of microseconds a call each.
    """
    few = few_texts(sources)
    if few is not None:
        starts = [source is not None and source.startswith(WORKSTATION_PREFIX) for source in few]
        return pd.Series(np.array(starts, dtype=bool), index=sources.index)
    return sources.astype("string").str.startswith(WORKSTATION_PREFIX).fillna(False).astype(bool)
