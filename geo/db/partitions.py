"""Cadastre parcels are partitioned by département (about 100 million parcels nationally).

A département loaded for the first time is bulk-loaded: its partition is created as
a plain table, filled by COPY, indexed afterwards (a sorted GiST build is several
times faster than inserting into a live GiST index) and only then attached to
``parcel``, all within the import's transaction. Later imports of the same
département write through ``parcel`` into the attached partition.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

from geo.db.sql import compose, ident, literal
from geo.errors import Invalid
from geo.territories import LEVELS

_CODE = re.compile(LEVELS["departement"].pattern)


def partition_name(departement: str) -> str:
    if not _CODE.match(departement):
        raise Invalid(f"not a département code: {departement!r}")
    return f"parcel_d{departement.lower()}"


def is_attached(conn: Connection, departement: str) -> bool:
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'parcel'::regclass AND c.relname = :name)"
            ),
            {"name": partition_name(departement)},
        ).scalar_one()
    )


def lock(conn: Connection, departement: str) -> None:
    """Serialise imports of one département until the transaction ends (a second
    import of the same file waits for the first, then finds its rows)."""
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"parcel:{departement}"}
    )


def create_detached(conn: Connection, departement: str) -> str:
    """A plain table shaped like ``parcel`` (columns, NOT NULL, CHECK), without indexes."""
    name = partition_name(departement)
    conn.exec_driver_sql(
        compose(
            "CREATE TABLE {name} (LIKE parcel INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
            name=ident(name),
        )
    )
    return name


def index_and_attach(conn: Connection, departement: str) -> None:
    """Build the partition's indexes, then attach it (the parent's indexes adopt them).

    The CHECK on the département lets ATTACH skip its validation scan.
    """
    name = partition_name(departement)
    pieces = {
        "name": ident(name),
        "check": ident(f"{name}_departement"),
        "code": literal(departement),
    }
    for statement in (
        "ALTER TABLE {name} ADD PRIMARY KEY (id, departement_code)",
        "CREATE INDEX ON {name} USING gist (geom)",
        "CREATE INDEX ON {name} (commune_insee)",
        "ALTER TABLE {name} ADD CONSTRAINT {check} CHECK (departement_code = {code})",
        "ALTER TABLE parcel ATTACH PARTITION {name} FOR VALUES IN ({code})",
        "ANALYZE {name}",
    ):
        conn.exec_driver_sql(compose(statement, **pieces))


def recount(conn: Connection, departements: list[str]) -> None:
    """Write the exact number of parcels of each of ``departements`` into ``parcel_count``
    (migration 0019), in the transaction that changed them: one scan of each partition
    written, so that an unfiltered count never scans the table (geo.db.count)."""
    conn.execute(
        text(
            """INSERT INTO parcel_count (departement_code, parcels)
               SELECT d, (SELECT count(*) FROM parcel WHERE departement_code = d)
               FROM unnest(CAST(:deps AS text[])) AS d
               ON CONFLICT (departement_code) DO UPDATE SET parcels = EXCLUDED.parcels"""
        ),
        {"deps": sorted(departements)},
    )


# The total of parcel_count, or NULL when a partition has no count there (written by other
# means than the loader): the caller then counts the rows.
KNOWN_PARCELS_SQL = """SELECT CASE WHEN
    (SELECT count(*) FROM pg_inherits WHERE inhparent = 'parcel'::regclass)
    = (SELECT count(*) FROM parcel_count)
    THEN (SELECT coalesce(sum(parcels), 0) FROM parcel_count) END"""
