"""SQL assembled safely by construction (geo.db.sql): names quoted, plain strings refused."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Engine, text

from geo.db.partitions import partition_name
from geo.db.sql import Sql, compose, ident, idents, literal, trusted
from geo.ingest.staging import Stage
from geo.scoring.model import score_sql
from geo.scoring.profiles import get_profile

HOSTILE = 'x"; DROP TABLE victim; --'


def test_ident_quotes_quotes_and_semicolons() -> None:
    assert ident("parcel") == '"parcel"'
    assert ident(HOSTILE) == '"x""; DROP TABLE victim; --"'
    assert ident("public", "parcel") == '"public"."parcel"'
    assert idents(["a", 'b"c']) == '"a", "b""c"'
    assert literal("91'; --") == "'91''; --'"
    assert isinstance(compose("SELECT {c}", c=ident("c")), Sql)


def test_compose_refuses_plain_strings() -> None:
    with pytest.raises(TypeError, match="not a Sql piece"):
        compose("DELETE FROM {table}", table="parcel")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a Sql piece"):
        Sql(", ").join([ident("a"), "b"])
    with pytest.raises(KeyError, match="table"):
        compose("DELETE FROM {table}")
    assert compose("SELECT 1 {rest}", rest=trusted("LIMIT 1")) == "SELECT 1 LIMIT 1"


def test_a_hostile_name_is_a_name_never_a_statement(fresh_engine: Engine) -> None:
    with fresh_engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE victim (a int)"))
        conn.exec_driver_sql(compose("CREATE TEMP TABLE {t} (a int)", t=ident(HOSTILE)))
        conn.exec_driver_sql(
            compose("INSERT INTO {t} ({c}) VALUES (1)", t=ident(HOSTILE), c=idents(["a"]))
        )
        names = conn.execute(
            text("SELECT relname FROM pg_class WHERE relname IN ('victim', :n) ORDER BY 1"),
            {"n": HOSTILE},
        ).scalars()
        assert sorted(names) == sorted(["victim", HOSTILE])
        assert conn.execute(text(compose("SELECT a FROM {t}", t=ident(HOSTILE)))).scalar() == 1


def test_a_stage_of_a_hostile_table_stays_quoted(fresh_engine: Engine) -> None:
    """The loaders' staging (geo.ingest.staging.Stage) quotes the table and its columns."""
    with fresh_engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE victim (a int)"))
        conn.exec_driver_sql(
            compose("CREATE TEMP TABLE {t} (id text PRIMARY KEY)", t=ident(HOSTILE))
        )
        stage = Stage(conn, HOSTILE, {"id": "text"})
        assert stage.name == ident(f"{HOSTILE}_stage")
        assert stage.duplicates(["id"]) == []
        assert stage.merge(["id"]) == (0, 0)
        assert conn.execute(text("SELECT count(*) FROM victim")).scalar() == 0


def test_partition_names_are_checked_then_quoted() -> None:
    assert partition_name("2A") == "parcel_d2a"
    with pytest.raises(Exception, match="not a département code"):
        partition_name("91; DROP TABLE parcel")


def test_a_profile_id_in_column_names_stays_quoted(fresh_engine: Engine) -> None:
    """A profile's id becomes part of the names of its score columns (geo.scoring.model):
    quoted, an id with a quote and a semicolon is still one name."""
    profile = dataclasses.replace(get_profile(None), id=HOSTILE)
    lateral, score, reliability = score_sql(profile)
    with fresh_engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE victim (a int)"))
        conn.execute(text(f"SELECT {score}, {reliability} FROM parcel_features f {lateral}")).all()
        assert conn.execute(text("SELECT count(*) FROM victim")).scalar() == 0
