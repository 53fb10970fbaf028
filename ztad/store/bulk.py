"""Bulk inserts: ``COPY`` on PostgreSQL, the driver's ``executemany`` on SQLite.

``COPY ... FROM STDIN`` runs on the transaction's own connection, so it commits or rolls
back with the rest of the day. It is several times faster than row-by-row ``INSERT``: a
day's findings or a large quarantine land in a fraction of a second. On SQLite the values
are turned into what the driver takes a column at a time, by each column type's own bind
processor, and handed to the driver's ``executemany`` as rows: the values SQLAlchemy's insert
would send, without a parameter dictionary built and processed per row.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ztad.store.conversion import Columns
from ztad.store.types import IPAddress, JSONDocument, document_text


def insert_rows(connection: Connection, table: Table, values: Columns) -> int:
    """Insert column-wise ``values`` into ``table`` within the open transaction.

    Returns the number of rows inserted.
    """
    count = len(next(iter(values.values()), []))
    if count == 0:
        return 0
    if connection.dialect.name == "postgresql":
        _copy(connection, table, values)
    else:
        _execute_many(connection, table, values)
    return count


def _execute_many(connection: Connection, table: Table, values: Columns) -> None:
    """Insert the rows with the driver's ``executemany`` (``?`` placeholders, as SQLite's
    driver takes them), each column's values bound as its type binds them."""
    dialect = connection.dialect
    names = list(values)
    columns = [_bound(dialect, table.c[name].type, values[name]) for name in names]
    preparer = dialect.identifier_preparer
    statement = (
        f"INSERT INTO {preparer.format_table(table)} ({', '.join(preparer.quote(name) for name in names)}) "
        f"VALUES ({', '.join('?' * len(names))})"
    )
    connection.exec_driver_sql(statement, list(zip(*columns)))


def _bound(dialect, kind, column: list) -> list:
    """A column's values as the driver takes them: a JSON document as the text
    :func:`ztad.store.types.document_text` writes (the text the column type would write),
    any other value through the type's bind processor for ``dialect``, if it has one."""
    if isinstance(kind, JSONDocument):
        return [document_text(value) for value in column]
    process = kind.dialect_impl(dialect).bind_processor(dialect)
    return column if process is None else [process(value) for value in column]


def _copy(connection: Connection, table: Table, values: Columns) -> None:
    names = list(values)
    columns = [_copy_text(table.c[name].type, values[name]) for name in names]
    quoted = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in names)
    statement = f"COPY {connection.dialect.identifier_preparer.format_table(table)} ({quoted}) FROM STDIN"
    driver = connection.dialect.loaded_dbapi
    try:
        with connection.connection.driver_connection.cursor() as cursor:
            with cursor.copy(statement) as copy:
                for row in zip(*columns):
                    copy.write_row(row)
    except driver.Error as error:
        # The same exception classes as SQLAlchemy's own statements raise (IntegrityError...).
        raise DBAPIError.instance(statement, None, error, driver.Error, dialect=connection.dialect) from error


def _copy_text(kind, column: list) -> list:
    """Values the text COPY format parses into the column's type (JSON and IPs as text)."""
    if isinstance(kind, JSONDocument):
        # A null of pandas or NaN as the whole document: the JSON null, as COPY has written it.
        return [None if value is None else document_text(value) or "null" for value in column]
    if isinstance(kind, IPAddress):
        return [None if value is None else str(value) for value in column]
    return column
