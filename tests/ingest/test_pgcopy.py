"""The vectorised binary COPY encoder and EWKB builder, checked by PostgreSQL itself."""

from __future__ import annotations

import datetime

import numpy as np
import pyarrow as pa
import shapely
from sqlalchemy import Engine

from geo.ingest.common import multipolygon_ewkb
from geo.ingest.pgcopy import SIGNATURE, TRAILER, Field, encode_rows

SQUARE = shapely.box(0, 0, 1, 1)
TWO = shapely.multipolygons([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)])


def test_multipolygon_ewkb_matches_geos() -> None:
    geoms = np.array([SQUARE, TWO, shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 0)])])
    parts, index = shapely.get_parts(geoms, return_index=True)
    expected = shapely.to_wkb(
        shapely.set_srid(shapely.multipolygons(parts, indices=index), 2154), include_srid=True
    )
    assert multipolygon_ewkb(geoms, 2154).to_pylist() == list(expected)


def test_every_kind_and_nulls_round_trip(fresh_engine: Engine) -> None:
    ewkb = multipolygon_ewkb(np.array([SQUARE, TWO, SQUARE]), 2154)
    fields = [
        Field(pa.array(["a", "é€ long text " * 30, None]), "text"),
        Field(pa.array([256, None, -5], pa.int32()), "int4"),
        Field(pa.array([1.5, None, 2.25]), "float8"),
        Field(pa.array([datetime.date(2007, 10, 10), None, datetime.date(1999, 12, 31)]), "date"),
        Field(pa.array([ewkb[0].as_py(), None, ewkb[2].as_py()], pa.binary()), "bytes"),
    ]
    raw = fresh_engine.raw_connection()
    try:
        conn = raw.driver_connection
        conn.execute(
            "CREATE TEMP TABLE t (a text, b int4, c float8, d date, g geometry(MultiPolygon, 2154))"
        )
        with conn.cursor().copy("COPY t FROM STDIN (FORMAT binary)") as copy:
            copy.write(SIGNATURE)
            copy.write(encode_rows(fields))
            copy.write(TRAILER)
        rows = conn.execute("SELECT a, b, c, d, ST_AsText(g) FROM t").fetchall()
    finally:
        raw.close()
    assert rows == [
        ("a", 256, 1.5, datetime.date(2007, 10, 10), "MULTIPOLYGON(((1 0,1 1,0 1,0 0,1 0)))"),
        ("é€ long text " * 30, None, None, None, None),
        (None, -5, 2.25, datetime.date(1999, 12, 31), "MULTIPOLYGON(((1 0,1 1,0 1,0 0,1 0)))"),
    ]
