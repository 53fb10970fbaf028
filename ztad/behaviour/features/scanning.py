"""The internet's background noise: addresses that scan every exposed server.

Any server that answers on the internet sees, every day, addresses it has never seen try a few
logins against ``root``, ``admin`` or names that do not exist, and go away. Each is harmless on
its own and they are many; an analyst wants them summarised, not one incident each. This family
describes each event's source address over the whole day, for the ``background_scanning`` rule
(:mod:`ztad.behaviour.rules`) and the daily scanning incident (:mod:`ztad.findings.incidents`):

- how many attempts it made today, and over how many minutes;
- whether it looks like a scanner: the organisation has never seen it, it never got in, and
  every account it tried is not a real one (:data:`SCANNED_NAMES`, or a user the baseline does
  not know who did not sign in today either).

A source that persists (more attempts, or longer), targets a real account or gets in is not
background noise: the other rules judge it on its own. Only addresses count; a workstation
(Windows sign-ins without an address) is inside the network. The counts look across users, so
a day scored in shards takes them from the whole day (:mod:`ztad.behaviour.features.cross_user`).
No model feature comes from here, only context columns.
"""

from __future__ import annotations

import numpy as np

from ztad.behaviour.features.context import EventContext
from ztad.behaviour.features.shared_counts import given

#: Account names that scanners try on every server, real or not: attempts on them say nothing
#: about the organisation's own accounts. ``(empty)`` is an empty user name (sshd).
SCANNED_NAMES: frozenset[str] = frozenset(
    {"root", "admin", "administrator", "test", "user", "guest", "oracle", "ubuntu", "pi", "postgres",
     "ftpuser", "git", "support", "debian", "centos", "ec2-user", "mysql", "(empty)"}
)

DESCRIPTIONS: dict[str, str] = {}

CONTEXT_DESCRIPTIONS: dict[str, str] = {
    "ctx_source_attempts_today": "Sign-in attempts of the event's address today",
    "ctx_source_minutes_today": "Minutes from the first to the last attempt of the event's address today",
    "ctx_source_scanner_like": "1 when the event's address was never seen by the organisation, never got "
    "in today, and tried only root, admin or accounts that are not real ones",
}


def source_scan(ctx: EventContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per event, its address's attempts today, their span in minutes, and whether it looks
    like a scanner (1.0) or not (0.0); zeros for events without an address."""
    attempts = given(ctx, "source_attempts_today")
    if attempts is not None:
        return attempts, given(ctx, "source_minutes_today"), given(ctx, "source_scanner_like")
    real = real_accounts(ctx.known_user, scanned_names(ctx), ctx.failed, ctx.day_user)
    seen = ctx.org_users("ip") > 0
    return address_activity(ctx.day_codes("ip_address"), ctx.micros, ctx.failed, real, seen)


def address_activity(
    codes: np.ndarray, micros: np.ndarray, failed: np.ndarray, real: np.ndarray, seen: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`source_scan` from the day's arrays: each event's address code (-1: none), time,
    whether it failed, whether its user is a real account (:func:`real_accounts`) and whether
    the organisation has seen its address. Equal codes mean the same address."""
    has = codes >= 0
    zeros = np.zeros(len(codes))
    if not has.any():
        return zeros, zeros, zeros
    width = int(codes.max()) + 1
    chosen = codes[has]
    count = np.bincount(chosen, minlength=width)
    successes = np.bincount(chosen, weights=~failed[has], minlength=width)
    real = np.bincount(chosen, weights=real[has], minlength=width)
    seen = np.bincount(chosen, weights=seen[has], minlength=width)
    first = np.full(width, np.iinfo(np.int64).max)
    last = np.full(width, np.iinfo(np.int64).min)
    np.minimum.at(first, chosen, micros[has])
    np.maximum.at(last, chosen, micros[has])
    scanner_like = (successes == 0) & (real == 0) & (seen == 0)
    minutes = (last - first) / 60e6
    take = np.maximum(codes, 0)
    return (
        np.where(has, count[take], 0).astype("float64"),
        np.where(has, minutes[take], 0.0),
        np.where(has, scanner_like[take], False).astype("float64"),
    )


def scanned_names(ctx: EventContext) -> np.ndarray:
    """True where the event's user name is one scanners try everywhere (:data:`SCANNED_NAMES`)."""
    return ctx.lowered_in(ctx.text("user_id"), SCANNED_NAMES)


def real_accounts(
    known: np.ndarray, scanned: np.ndarray, failed: np.ndarray, users: np.ndarray
) -> np.ndarray:
    """True where the event's user is a real account: known to the baseline (``known``) or
    signed in today, and not a name scanners try everywhere (``scanned``). ``users`` are the
    day's user codes (equal codes, the same user)."""
    signed_in = np.bincount(users, weights=~failed, minlength=int(users.max(initial=-1)) + 1)
    return (known | (signed_in[users] > 0)) & ~scanned


def compute(ctx: EventContext) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """No features; the context columns of :data:`CONTEXT_DESCRIPTIONS`."""
    attempts, minutes, scanner_like = source_scan(ctx)
    return {}, {
        "ctx_source_attempts_today": attempts,
        "ctx_source_minutes_today": minutes,
        "ctx_source_scanner_like": scanner_like,
    }
