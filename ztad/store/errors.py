"""Errors the findings store raises for input it cannot write."""

from __future__ import annotations


class StoreInputError(ValueError):
    """A frame handed to the store cannot be written as it is."""


class MissingColumnError(StoreInputError):
    """A findings or quarantine frame lacks columns the tables need.

    Attributes
    ----------
    frame
        Which frame: ``"findings"`` or ``"quarantine"``.
    columns
        The missing column names, in the order the store expects them.
    """

    def __init__(self, frame: str, columns: list[str], present: list[str]):
        self.frame = frame
        self.columns = columns
        names = ", ".join(repr(c) for c in columns)
        super().__init__(
            f"{frame} frame is missing required column(s) {names}; it has {present}. "
            f"Add the column(s) before writing the day."
        )


class InvalidRowError(StoreInputError):
    """One row of a frame holds a value the store refuses (named row, field and reason)."""

    def __init__(self, frame: str, row: int, field: str, reason: str):
        self.frame = frame
        self.row = row
        self.field = field
        self.reason = reason
        super().__init__(f"{frame} row {row}, field {field!r}: {reason}")


class UnsupportedDatabaseError(ValueError):
    """The URL names a database the store does not support (only PostgreSQL and SQLite)."""


class ModelDigestConflictError(ValueError):
    """A model version arrives with digests other than those its ``models`` row recorded when it
    was trained: the artifact store was altered. The row is never overwritten."""

    def __init__(self, model_version: str, field: str):
        self.model_version = model_version
        self.field = field
        super().__init__(
            f"model {model_version}: its {field} differ from those the models table recorded when it "
            "was trained, and that row is never overwritten; the artifact store was altered. Restore "
            f"the model's folder, or delete its row (DELETE FROM models WHERE model_version = "
            f"'{model_version}') and retrain"
        )
