"""Staging for the loaders: a temporary copy of a table's columns, filled by binary COPY
batch by batch, then merged into the table in the loader's transaction (an upsert that
leaves unchanged rows alone). Table and column names are quoted (geo.db.sql)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    SmallInteger,
    String,
    Table,
    text,
)
from sqlalchemy.types import TypeEngine

from geo.db.sql import Sql, compose, ident, idents, trusted
from geo.ingest.pgcopy import SIGNATURE, TRAILER, Field, encode_rows


@dataclass
class Stage:
    """A temporary copy of a table's columns, filled batch by batch, merged at the end.

    ``name`` (the stage) and ``cols`` (its columns) are quoted SQL, ready to paste."""

    conn: Connection
    table: str
    columns: dict[str, str]  # name -> pgcopy kind ("geometry" for EWKB)
    name: Sql = field(default=Sql(""), init=False)
    cols: Sql = field(default=Sql(""), init=False)

    def __post_init__(self) -> None:
        self.name = ident(f"{self.table}_stage")
        self.cols = idents(self.columns)
        self.conn.exec_driver_sql(
            compose(
                "CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
                "SELECT {cols} FROM {table} WITH NO DATA",
                stage=self.name,
                cols=self.cols,
                table=ident(self.table),
            )
        )

    def copy(self, values: dict[str, pa.Array]) -> None:
        fields = [
            Field(values[name], "bytes" if kind == "geometry" else kind)
            for name, kind in self.columns.items()
        ]
        if len(fields[0].values) == 0:
            return
        copy_binary(self.conn, self.name, self.cols, fields)

    def duplicates(self, key: list[str]) -> list[str]:
        rows = self.conn.exec_driver_sql(
            compose(
                "SELECT concat_ws('/', {key}) FROM {stage} GROUP BY {key} "
                "HAVING count(*) > 1 ORDER BY 1 LIMIT 5",
                key=idents(key),
                stage=self.name,
            )
        ).all()
        return [r[0] for r in rows]

    def merge(
        self,
        key: list[str],
        *,
        keep_when_null: bool = False,
        fill_only: frozenset[str] = frozenset(),
    ) -> tuple[int, int]:
        """Upsert into the table: (inserted, updated). Unchanged rows are not rewritten.

        With ``keep_when_null``, a null in this source leaves the stored value alone, so
        that two files describing the same objects (attributes, outlines) complete each
        other; columns in ``fill_only`` are only set where nothing is stored yet (a
        secondary source never overrides the main one, whatever the import order).
        """
        others = [c for c in self.columns if c not in key]

        def new(c: str) -> Sql:
            if c in fill_only:
                template = "coalesce(t.{c}, EXCLUDED.{c})"
            elif keep_when_null:
                template = "coalesce(EXCLUDED.{c}, t.{c})"
            else:
                template = "EXCLUDED.{c}"
            return compose(template, c=ident(c))

        def comparable(expr: Sql, c: str) -> Sql:
            geometry = self.columns[c] == "geometry"
            return compose("ST_AsEWKB({e})", e=expr) if geometry else expr

        comma = Sql(", ")
        sets = comma.join(compose("{c} = {v}", c=ident(c), v=new(c)) for c in others)
        before = comma.join(comparable(compose("t.{c}", c=ident(c)), c) for c in others)
        after = comma.join(comparable(new(c), c) for c in others)
        action = (
            compose(
                "DO UPDATE SET {sets} WHERE ROW({before}) IS DISTINCT FROM ROW({after})",
                sets=sets,
                before=before,
                after=after,
            )
            if others
            else trusted("DO NOTHING")
        )
        inserted, updated = self.conn.exec_driver_sql(
            compose(
                """WITH upserted AS (
                    INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM {stage}
                    ON CONFLICT ({key}) {action}
                    RETURNING (xmax = 0) AS inserted
                )
                SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
                FROM upserted""",
                table=ident(self.table),
                cols=self.cols,
                stage=self.name,
                key=idents(key),
                action=action,
            )
        ).one()
        return inserted, updated

    def remove_absent(self, key: str, group: str, values: set[str]) -> int:
        """Delete the table's rows of the ``group`` values this file delivers (a planning
        document, a risk plan) whose ``key`` the file no longer has: a re-delivered
        document replaces its previous one. Returns how many went."""
        return self.conn.execute(
            text(
                compose(
                    "DELETE FROM {table} t WHERE t.{group} = ANY(:values) AND NOT EXISTS "
                    "(SELECT 1 FROM {stage} s WHERE s.{key} = t.{key})",
                    table=ident(self.table),
                    group=ident(group),
                    stage=self.name,
                    key=ident(key),
                )
            ),
            {"values": sorted(values)},
        ).rowcount


def copy_binary(conn: Connection, table: Sql, cols: Sql, fields: list[Field]) -> None:
    """The rows of ``fields`` into ``table``'s ``cols`` by binary COPY."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None  # a checked-out connection always has one
    cursor = dbapi.cursor()
    statement = compose("COPY {table} ({cols}) FROM STDIN (FORMAT binary)", table=table, cols=cols)
    with cursor.copy(statement) as copy:
        copy.write(SIGNATURE)
        copy.write(encode_rows(fields))
        copy.write(TRAILER)


def copy_columns(table: Table) -> dict[str, str]:
    """Every column of ``table`` (in its order) with the kind a :class:`Stage` copies it as:
    a loader that fills a whole table reads its columns from the schema instead of
    declaring them again."""
    return {c.name: _copy_kind(c.type) for c in table.columns}


def _copy_kind(type_: TypeEngine[Any]) -> str:
    if isinstance(type_, Geometry):
        return "geometry"  # as EWKB
    if isinstance(type_, Boolean):
        return "bool"
    if isinstance(type_, Integer) and not isinstance(type_, BigInteger | SmallInteger):
        return "int4"
    if isinstance(type_, Float):
        return "float8"
    if isinstance(type_, Date) and not isinstance(type_, DateTime):
        return "date"
    if isinstance(type_, String):  # Text too
        return "text"
    raise TypeError(f"no COPY kind for a column of type {type_!r}")
