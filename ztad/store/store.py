"""``FindingsStore``: write a day's findings atomically, read findings, runs and quarantine."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator

import pandas as pd
from sqlalchemy import Table, delete, inspect, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine

from ztad.store import conversion, migrate, tables
from ztad.store.bulk import insert_rows
from ztad.store.engine import make_engine, prepare_engine, writer_options
from ztad.store.errors import ModelDigestConflictError
from ztad.store.locks import day_lock_name, lock_for_transaction
from ztad.store.records import ModelRecord, RunRecord
from ztad.store.urls import normalize_url, safe_url

log = logging.getLogger(__name__)


class FindingsStore:
    """The findings database: PostgreSQL in production, a SQLite file by default.

    Parameters
    ----------
    url
        ``postgresql+psycopg://user@host:5432/db`` (``postgres://`` and ``postgresql://``
        are taken to mean psycopg 3), ``sqlite:///path/findings.db``, or an existing
        SQLAlchemy ``Engine`` (e.g. from an Airflow hook), which the store then does not
        dispose of.
    """

    def __init__(self, url: str | URL | Engine):
        if isinstance(url, Engine):
            normalize_url(url.url)  # refuses unsupported backends
            self.engine = prepare_engine(url)
            self._owns_engine = False
        else:
            parsed = normalize_url(url)
            _make_sqlite_folder(parsed)
            self.engine = make_engine(parsed)
            self._owns_engine = True

    @property
    def url(self) -> str:
        """The database URL with its password masked."""
        return safe_url(self.engine.url)

    def __repr__(self) -> str:
        return f"FindingsStore({self.url!r})"

    def __enter__(self) -> "FindingsStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections (only of an engine the store created)."""
        if self._owns_engine:
            self.engine.dispose()

    # ----------------------------------------------------------------------- schema

    def create_schema(self) -> None:
        """Create or upgrade the tables through the migrations; safe to call every run."""
        migrate.upgrade(self.engine)

    def schema_revision(self) -> str | None:
        """The migration revision the database is at (``None`` before ``create_schema``)."""
        with self.engine.connect() as connection:
            return migrate.current_revision(connection)

    # ----------------------------------------------------------------------- writes

    def replace_day(
        self,
        run: RunRecord,
        findings: pd.DataFrame,
        quarantine: pd.DataFrame | None = None,
        *,
        keep_triage: bool = True,
        incidents: pd.DataFrame | None = None,
        user_risk: pd.DataFrame | None = None,
        model: ModelRecord | None = None,
    ) -> None:
        """Replace ``run.day``'s findings, incidents, user risk and quarantined rows, upsert the
        run, and record the model that scored the day, atomically.

        One transaction: on PostgreSQL it first takes the day's advisory lock, so that two
        overlapping runs of one day apply one after the other instead of mixing; then it
        deletes the day's findings and quarantine rows, inserts the new ones and upserts
        the run row. Either all of it lands or none of it. Re-running a day leaves exactly
        the new run's findings.

        Parameters
        ----------
        run
            The run; its ``day`` selects what is replaced.
        findings
            One row per flagged event: ``REQUIRED_FINDING_COLUMNS`` (``timestamp`` is
            accepted for ``event_time``) plus any other ``findings`` column.
        quarantine
            ``source, source_row, field, reason, raw`` rows; ``None`` for none.
        keep_triage
            Keep the stored status, assignee, notes and ``updated_at`` of findings and
            incidents that the new run raises again, so that a rerun does not undo analysts'
            work.
        incidents
            The day's incidents (``incidents`` columns; ``incident_id``, ``kind``,
            ``first_time``, ``last_time``, ``finding_count`` and ``user_count`` required);
            ``None`` for none.
        user_risk
            The day's per-user risk rows (``user_risk`` columns; ``user_id``, ``risk_score``,
            ``findings_count`` and ``incidents_count`` required); ``None`` for none.
        model
            The model that scored the day, as :meth:`record_model` records it (its row is
            written once; only the training run's fields are filled in later).

        Raises
        ------
        MissingColumnError, InvalidRowError
            Before anything is written, when the frames cannot be stored.
        ModelDigestConflictError
            When the model's digests differ from its stored row; nothing is written.
        """
        finding_values = conversion.finding_columns(findings, run)
        quarantine_values = conversion.quarantine_columns(quarantine, run)
        incident_values = _day_rows(incidents, tables.incidents, run, _INCIDENT_REQUIRED)
        risk_values = _day_rows(user_risk, tables.user_risk, run, _RISK_REQUIRED)
        with self._writing() as connection:
            lock_for_transaction(connection, day_lock_name(run.day))
            if keep_triage:
                finding_values = conversion.carry_triage(finding_values, _read_triage(connection, run.day))
                incident_values = _carry_incident_triage(incident_values, _read_incident_triage(connection, run.day))
            _delete_day(connection, run.day)
            insert_rows(connection, tables.incidents, incident_values)
            insert_rows(connection, tables.findings, finding_values)
            insert_rows(connection, tables.user_risk, risk_values)
            insert_rows(connection, tables.quarantine, quarantine_values)
            if model is not None:
                _record_model(connection, model)
            _upsert_run(connection, run)
        log.info(
            "%s: wrote %d findings and %d quarantined rows for run %s",
            run.day, len(finding_values["finding_id"]), len(quarantine_values["day"]), run.run_id,
        )

    def record_run(self, run: RunRecord) -> None:
        """Insert or update one run row only (e.g. a run that failed before writing)."""
        with self._writing() as connection:
            _upsert_run(connection, run)

    def record_model(self, model: ModelRecord) -> None:
        """Record one model of the registry in ``models``: the row is the registry's root of
        trust (the digests of the model's files, checked before every load).

        Written once: the registry facts of a version never change, and a stored row's digests
        are never overwritten. Writing the version again only fills in ``train_reason``,
        ``trained_for_day`` and ``run_id``, with the values that are set (a run that loaded the
        model leaves its training run's in place).

        Raises
        ------
        ModelDigestConflictError
            When ``model`` carries other digests than the stored row (the artifact store was
            altered); nothing is changed.
        """
        with self._writing() as connection:
            _record_model(connection, model)

    def model_digests(self, model_version: str) -> tuple[str, dict] | None:
        """``(metadata_sha256, files)`` that ``models`` recorded for a version when it was
        trained, or ``None`` when it holds no such row (or no ``models`` table yet)."""
        table = tables.models
        with self.engine.connect() as connection:
            if not inspect(connection).has_table(table.name):
                return None
            row = connection.execute(
                select(table.c.metadata_sha256, table.c.files).where(table.c.model_version == model_version)
            ).first()
        return None if row is None else (row[0], dict(row[1]))

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            connection.execution_options(**writer_options(self.engine))
            with connection.begin():
                yield connection

    # ----------------------------------------------------------------------- reads

    def findings(self, day: date | str | None = None, user_id: str | None = None) -> pd.DataFrame:
        """Findings, optionally of one day and/or one user, oldest event first."""
        table = tables.findings
        query = select(table).order_by(table.c.event_time, table.c.finding_id)
        if day is not None:
            query = query.where(table.c.day == _as_date(day))
        if user_id is not None:
            query = query.where(table.c.user_id == user_id)
        return self._read(table, query)

    def runs(self, day: date | str | None = None) -> pd.DataFrame:
        """Run records, optionally of one day, in day then start order."""
        table = tables.runs
        query = select(table).order_by(table.c.day, table.c.started_at, table.c.run_id)
        if day is not None:
            query = query.where(table.c.day == _as_date(day))
        return self._read(table, query)

    def quarantined(self, day: date | str | None = None) -> pd.DataFrame:
        """Quarantined input rows, optionally of one day, in the order they were written."""
        table = tables.quarantine
        query = select(table).order_by(table.c.id)
        if day is not None:
            query = query.where(table.c.day == _as_date(day))
        return self._read(table, query)

    def incidents(self, day: date | str | None = None, status: str | None = None) -> pd.DataFrame:
        """Incidents, optionally of one day and/or one status, most severe first."""
        table = tables.incidents
        query = select(table).order_by(table.c.day, table.c.severity.desc(), table.c.incident_id)
        if day is not None:
            query = query.where(table.c.day == _as_date(day))
        if status is not None:
            query = query.where(table.c.status == status)
        return self._read(table, query)

    def user_risk(self, day: date | str | None = None, user_id: str | None = None) -> pd.DataFrame:
        """Per-user daily risk rows, optionally of one day and/or one user, riskiest first."""
        table = tables.user_risk
        query = select(table).order_by(table.c.day, table.c.risk_score.desc(), table.c.user_id)
        if day is not None:
            query = query.where(table.c.day == _as_date(day))
        if user_id is not None:
            query = query.where(table.c.user_id == user_id)
        return self._read(table, query)

    def models(self, model_version: str | None = None) -> pd.DataFrame:
        """The registry's index: registered models (or one version), newest training first."""
        table = tables.models
        query = select(table).order_by(table.c.trained_to.desc(), table.c.trained_at.desc())
        if model_version is not None:
            query = query.where(table.c.model_version == model_version)
        return self._read(table, query)

    def _read(self, table: Table, query) -> pd.DataFrame:
        with self.engine.connect() as connection:
            if not inspect(connection).has_table(table.name):
                return conversion.empty_frame(table)
            return conversion.frame_from_rows(table, connection.execute(query).all())


# --------------------------------------------------------------------------- steps


def _read_triage(connection: Connection, day: date) -> dict[str, tuple]:
    """Stored triage of the day's findings that an analyst has touched."""
    table = tables.findings
    columns = [table.c[name] for name in conversion.TRIAGE_COLUMNS]
    query = select(table.c.finding_id, *columns).where(
        table.c.day == day,
        or_(table.c.status != "new", table.c.assignee.is_not(None), table.c.notes.is_not(None)),
    )
    return {row[0]: tuple(row[1:]) for row in connection.execute(query)}


def _delete_day(connection: Connection, day: date) -> None:
    for table in (tables.findings, tables.incidents, tables.user_risk, tables.quarantine):
        connection.execute(delete(table).where(table.c.day == day))


_INCIDENT_REQUIRED = ("incident_id", "kind", "first_time", "last_time", "finding_count", "user_count")
_RISK_REQUIRED = ("user_id", "risk_score", "findings_count", "incidents_count")


def _day_rows(frame: pd.DataFrame | None, table: Table, run: RunRecord, required: tuple[str, ...]) -> conversion.Columns:
    """Values per column of ``table`` for the run's day (``day``, ``run_id``, ``status`` and
    ``created_at`` filled in); columns the frame lacks are NULL."""
    if frame is None or len(frame) == 0:
        return {}
    conversion._require(frame, required, table.name)
    frame = frame.reset_index(drop=True)
    defaults = {"day": run.day, "run_id": run.run_id, "status": "new", "created_at": datetime.now(timezone.utc)}
    values = {}
    for column in table.columns:
        if column.name in frame.columns:
            values[column.name] = conversion._column_values(frame, column, table.name)
        elif column.name in defaults:
            values[column.name] = [defaults[column.name]] * len(frame)
        elif column.server_default is None and not column.primary_key:
            values[column.name] = [None] * len(frame)
    values["day"] = [run.day] * len(frame)
    for name in ("status", "created_at", "run_id"):
        if name in values:
            values[name] = [defaults[name] if v is None else v for v in values[name]]
    return values


def _read_incident_triage(connection: Connection, day: date) -> dict[str, tuple]:
    """Stored triage of the day's incidents that an analyst has touched."""
    table = tables.incidents
    columns = [table.c[name] for name in conversion.TRIAGE_COLUMNS]
    query = select(table.c.incident_id, *columns).where(
        table.c.day == day,
        or_(table.c.status != "new", table.c.assignee.is_not(None), table.c.notes.is_not(None)),
    )
    return {row[0]: tuple(row[1:]) for row in connection.execute(query)}


def _carry_incident_triage(values: conversion.Columns, triaged: dict[str, tuple]) -> conversion.Columns:
    """Keep analysts' triage on incidents raised again (incident ids are stable per day)."""
    if not triaged or not values:
        return values
    out = {name: list(column) for name, column in values.items()}
    for name in conversion.TRIAGE_COLUMNS:
        out.setdefault(name, [None] * len(values["incident_id"]))
    for row, incident_id in enumerate(values["incident_id"]):
        kept = triaged.get(incident_id)
        if kept is not None:
            for name, value in zip(conversion.TRIAGE_COLUMNS, kept):
                out[name][row] = value
    return out


def _upsert_run(connection: Connection, run: RunRecord) -> None:
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    row = run.as_row()
    statement = dialect_insert(tables.runs).values(row)
    statement = statement.on_conflict_do_update(
        index_elements=[tables.runs.c.run_id],
        set_={name: statement.excluded[name] for name in row if name != "run_id"},
    )
    connection.execute(statement)


def _record_model(connection: Connection, model: ModelRecord) -> None:
    """Insert the model's row if it is new, else check its digests and fill in the run fields
    that are set; the registry facts and digests of a stored row never change."""
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    table = tables.models
    row = model.as_row()
    connection.execute(dialect_insert(table).values(row).on_conflict_do_nothing(index_elements=[table.c.model_version]))
    stored = connection.execute(
        select(table.c.metadata_sha256, table.c.files).where(table.c.model_version == model.model_version)
    ).one()
    if stored[0] != model.metadata_sha256:
        raise ModelDigestConflictError(model.model_version, "metadata.json digest")
    if dict(stored[1]) != model.files:
        raise ModelDigestConflictError(model.model_version, "file digests")
    runs = {name: row[name] for name in ModelRecord.run_fields() if row[name] is not None}
    if runs:
        connection.execute(update(table).where(table.c.model_version == model.model_version).values(**runs))


def _as_date(day: date | str) -> date:
    if isinstance(day, datetime):
        return day.date()
    return day if isinstance(day, date) else date.fromisoformat(str(day))


def _make_sqlite_folder(url: URL) -> None:
    """SQLite creates the file but not its folder."""
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
