"""Query results read at database speed, for exports: a COPY's bytes as PostgreSQL writes
them, or rows fetched from a server-side cursor in batches.

Both take SQLAlchemy's ``:name`` parameters and run on the connection's own transaction.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from sqlalchemy import Connection, text


def _psycopg(conn: Connection, sql: str) -> tuple[Any, str]:
    """The psycopg connection under ``conn`` and ``sql`` with psycopg's placeholders."""
    if not conn.in_transaction():
        conn.begin()  # read in the connection's own transaction, ended (rolled back) with it
    compiled = str(text(sql).compile(dialect=conn.dialect))
    return conn.connection.driver_connection, compiled


def copy_out(
    conn: Connection, sql: str, params: dict[str, Any], options: str
) -> Generator[bytes, None, None]:
    """The rows of the query ``sql`` as ``COPY … TO STDOUT WITH (options)`` writes them,
    chunk by chunk (the parameters are bound client-side: COPY takes none)."""
    raw, query = _psycopg(conn, sql)
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY ({query}) TO STDOUT WITH ({options})", params) as copy,
    ):
        yield from copy


def row_batches(
    conn: Connection, sql: str, params: dict[str, Any], size: int
) -> Generator[list[tuple[Any, ...]], None, None]:
    """The rows of ``sql``, ``size`` at a time, through a server-side cursor in binary (no
    number is printed by PostgreSQL and parsed again by Python)."""
    raw, query = _psycopg(conn, sql)
    with raw.cursor(name="foncier_export", binary=True) as cursor:
        cursor.itersize = size
        cursor.execute(query, params)
        while rows := cursor.fetchmany(size):
            yield rows
