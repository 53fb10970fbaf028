"""The record type the JSON streaming tests decode into."""

import msgspec


class Record(msgspec.Struct):
    a: int | str | None = None
    s: str | None = None
