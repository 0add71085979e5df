"""The migrations build exactly the schema declared in geo.db.schema, and can be undone."""

from __future__ import annotations

import re

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from app.db import alembic_config
from geo.db.schema import include_object, metadata


def test_migrations_match_the_declared_schema(fresh_engine: Engine) -> None:
    with fresh_engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        assert compare_metadata(context, metadata) == []


def test_geometries_are_lambert93_with_gist_indexes(fresh_engine: Engine) -> None:
    with fresh_engine.connect() as conn:
        columns = conn.execute(
            text("SELECT f_table_name, f_geometry_column, srid FROM geometry_columns")
        ).all()
        gist = {
            (table, re.search(r"USING gist \((\w+)\)", indexdef).group(1))
            for table, indexdef in conn.execute(
                text(
                    "SELECT tablename, indexdef FROM pg_indexes WHERE indexdef LIKE '%USING gist%'"
                )
            )
        }
    assert len(columns) >= 8
    assert {srid for _, _, srid in columns} == {2154}
    assert {(table, col) for table, col, _ in columns} == gist


def test_large_tables_carry_the_departement_code(fresh_engine: Engine) -> None:
    columns = {c["name"] for c in inspect(fresh_engine).get_columns("parcel")}
    assert "departement_code" in columns


def test_downgrade_then_upgrade(fresh_engine: Engine) -> None:
    config = alembic_config(fresh_engine.url.render_as_string(hide_password=False))
    command.downgrade(config, "base")
    assert "parcel" not in inspect(fresh_engine).get_table_names()
    command.upgrade(config, "head")
    assert "parcel" in inspect(fresh_engine).get_table_names()
