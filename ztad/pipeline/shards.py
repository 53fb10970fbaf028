"""Shards of users: a day's events divided by a stable hash of the user id."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Most shards a day may be split into (far more than the workers of any executor).
MAX_SHARDS = 256


#: Fixed 16-byte key of the user hash, so that a user's shard never changes.
SHARD_HASH_KEY = "ztad-user-shards"


class ShardError(ValueError):
    """A shard count or index is invalid, or a day's shard files do not fit together."""


def check_count(count) -> int:
    """Return ``count`` as a number of shards, 1 to :data:`MAX_SHARDS`.

    Raises
    ------
    ShardError
        For anything else (the message says what is allowed).
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        raise ShardError(f"the number of shards must be a whole number, not {count!r}")
    if not 1 <= count <= MAX_SHARDS:
        raise ShardError(f"the number of shards must be between 1 and {MAX_SHARDS}, not {count}")
    return int(count)


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of a day split into ``count`` shards."""

    index: int
    count: int

    def __post_init__(self) -> None:
        check_count(self.count)
        if isinstance(self.index, bool) or not isinstance(self.index, (int, np.integer)):
            raise ShardError(f"a shard index must be a whole number, not {self.index!r}")
        if not 0 <= self.index < self.count:
            raise ShardError(f"shard index {self.index} is outside 0..{self.count - 1}")

    @property
    def folder_name(self) -> str:
        """Its folder inside the day's work folder, e.g. ``shard=002-of-004`` (1-based)."""
        return f"shard={self.index + 1:03d}-of-{self.count:03d}"

    def as_dict(self) -> dict[str, int]:
        """A JSON-able form (what an orchestrator maps a task over)."""
        return {"index": self.index, "count": self.count}

    @classmethod
    def from_dict(cls, value: dict) -> "Shard":
        """The shard of :meth:`as_dict`."""
        try:
            return cls(index=value["index"], count=value["count"])
        except (KeyError, TypeError):
            raise ShardError(
                f"a shard is given as {{'index': i, 'count': n}}, not {value!r}"
            ) from None

    def __str__(self) -> str:
        return f"shard {self.index + 1} of {self.count}"


def all_shards(count: int) -> list[Shard]:
    """The ``count`` shards of a day, in order."""
    return [Shard(index, check_count(count)) for index in range(count)]


def shard_of(user_ids: pd.Series, count: int) -> np.ndarray:
    """The shard (0-based) of each user id: a keyed hash modulo ``count``, stable everywhere.

    The hash is pandas' SipHash of the text with a fixed key, so it does not depend on the
    process (unlike Python's ``hash``), the machine, or the other users of the day.
    """
    count = check_count(count)
    hashes = pd.util.hash_pandas_object(
        user_ids.astype("string").fillna(""), index=False, hash_key=SHARD_HASH_KEY
    )
    return (hashes.to_numpy(dtype=np.uint64) % np.uint64(count)).astype(np.int64)
