"""The features of a collection (app.services.collections) selected and written by
PostGIS: the items' SQL (what to select, each feature's GeoJSON, keyset pages, counts) and
each collection's extent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection, text

from app.services.collections import Collection
from app.services.cql2 import SqlFilter
from app.services.crs import DEFAULT, Crs
from geo.crs import GEOJSON_DECIMALS, LAMBERT93, WGS84
from geo.db.bbox import bbox_params
from geo.db.count import COUNT_BUDGET_MS, Matched, count_matches, count_within
from geo.db.geojson import feature_sql, geometry_sql


@dataclass(frozen=True)
class ItemsQuery:
    """What selects the features of one items request (every value bound, never in SQL).

    ``bbox`` is in ``bbox_crs``, easting or longitude first; ``properties`` are typed
    values of queryables; ``filter`` a translated CQL2 filter; ``interval`` the datetime
    parameter's (start, end), either open (None), tested on the collection's temporal
    property when it has one."""

    bbox: tuple[float, float, float, float] | None = None
    bbox_crs: Crs = DEFAULT
    properties: dict[str, object] = field(default_factory=dict)
    # the last feature id of the previous page (keyset paging)
    after: str | int | None = None
    filter: SqlFilter | None = None
    interval: tuple[object, object] | None = None

    def selects_all(self, collection: Collection) -> bool:
        """Whether every feature of ``collection`` matches (nothing filters them)."""
        return (
            self.bbox is None
            and not self.properties
            and self.filter is None
            and (self.interval is None or collection.temporal is None)
        )

    def where(self, collection: Collection) -> tuple[str, dict[str, object]]:
        clauses: list[str] = ["TRUE"]
        params: dict[str, object] = {}
        if self.bbox:
            clauses.append(collection.box_clause(self.bbox_crs.srid, self.bbox_crs.segment))
            params.update(bbox_params(self.bbox))
        for i, (name, value) in enumerate(sorted(self.properties.items())):
            clauses.append(f"{collection.properties[name]} = :q{i}")
            params[f"q{i}"] = value
        if self.filter is not None:
            clauses.append(self.filter.clause)
            params.update(self.filter.params)
        if self.interval is not None and collection.temporal:
            start, end = self.interval
            if start is not None:
                clauses.append(f"{collection.temporal} >= :t_start")
                params["t_start"] = start
            if end is not None:
                clauses.append(f"{collection.temporal} <= :t_end")
                params["t_end"] = end
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class ItemsPage:
    features: list[str]
    number_matched: Matched
    last_key: str | int | None
    has_more: bool


# What a feature's geometry is: its outline, a point on its surface (what a CSV's x and y
# need), or null (an export without geometries)
Geometry = Literal["outline", "point", "none"]


def _feature(collection: Collection, crs: Crs, geometry: Geometry = "outline") -> str:
    """SQL of one feature of ``collection`` as GeoJSON (json), its geometry in ``crs``."""
    if geometry == "none":
        shape = "NULL"
    else:
        column = (
            collection.geom if geometry == "outline" else f"ST_PointOnSurface({collection.geom})"
        )
        shape = geometry_sql(column, crs.srid, crs.decimals, crs.lat_first)
    return feature_sql(collection.key, collection.geom, collection.properties_sql(), shape)


def _features_sql(collection: Collection, feature: str, clause: str) -> str:
    """SQL: the key and the GeoJSON text of the features matching ``clause``, in key order."""
    return (
        f"SELECT {collection.key} AS k, {feature}::text "
        f"FROM {collection.source} WHERE {clause} ORDER BY {collection.key}"
    )


def count_items(conn: Connection, collection: Collection, query: ItemsQuery, up_to: int) -> Matched:
    """How many features match: exact up to ``up_to``, "more than" beyond (geo.db.count)."""
    clause, params = query.where(collection)
    return count_matches(conn, f"FROM {collection.source} WHERE {clause}", params, up_to)


def matched_items(
    conn: Connection, collection: Collection, query: ItemsQuery, budget_ms: int = COUNT_BUDGET_MS
) -> Matched:
    """numberMatched: kept by the loaders when nothing filters a large collection, else
    counted within ``budget_ms``, else unknown (geo.db.count)."""
    clause, params = query.where(collection)
    known = collection.known_count if query.selects_all(collection) else None
    return count_within(
        conn, f"FROM {collection.source} WHERE {clause}", params, budget_ms, known=known
    )


def items_page(
    conn: Connection,
    collection: Collection,
    query: ItemsQuery,
    limit: int,
    crs: Crs = DEFAULT,
    count_budget_ms: int = COUNT_BUDGET_MS,
) -> ItemsPage:
    """One page of features as GeoJSON strings built by PostGIS, in feature id order.

    A first page that holds every match is its own count: no count is run (a map's small
    boxes are most requests, and the count was two thirds of their time, bench/README.md)."""
    clause, params = query.where(collection)
    if query.after is not None:
        clause += f" AND {collection.key} > :after"
        params["after"] = query.after
    rows = conn.execute(
        text(_features_sql(collection, _feature(collection, crs), clause) + " LIMIT :limit"),
        {**params, "limit": limit + 1},
    ).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    if query.after is None and not has_more:
        matched = Matched(len(rows))
    else:
        matched = matched_items(conn, collection, query, count_budget_ms)
    return ItemsPage(
        features=[r[1] for r in rows],
        number_matched=matched,
        last_key=rows[-1][0] if rows else None,
        has_more=has_more,
    )


def item_pages(
    conn: Connection,
    collection: Collection,
    query: ItemsQuery,
    size: int,
    crs: Crs = DEFAULT,
    geometry: Geometry = "outline",
) -> Iterator[list[str]]:
    """Every feature matching ``query``, in feature id order, as pages of ``size`` GeoJSON
    strings: one query read through a server-side cursor (an export), not a query a page."""
    clause, params = query.where(collection)
    result = conn.execution_options(stream_results=True, yield_per=size).execute(
        text(_features_sql(collection, _feature(collection, crs, geometry), clause)), params
    )
    for rows in result.partitions(size):
        yield [r[1] for r in rows]


def item(
    conn: Connection, collection: Collection, feature_id: str | int, crs: Crs = DEFAULT
) -> str | None:
    feature = _feature(collection, crs)
    return conn.execute(
        text(f"SELECT {feature}::text FROM {collection.source} WHERE {collection.key} = :id"),
        {"id": feature_id},
    ).scalar_one_or_none()


# Below this many rows (the planner's count) an exact extent is cheap enough.
ESTIMATE_FROM_ROWS = 100_000


def extent_wgs84(conn: Connection, collection: Collection) -> list[float] | None:
    """The collection's bounding box in WGS84, taken from the geometries once transformed
    (in Lambert-93, a conic projection, a box's edges are not meridians and parallels: the
    middle of its top edge lies further north than its corners), rounded outward to the
    GeoJSON's 6 decimals. Exact for most collections (the extent of every transformed
    geometry); for a large table, the Lambert-93 box of each of its partitions from the
    planner's statistics, densified before it is transformed (90 million parcels cannot be
    transformed within a request)."""
    table = collection.extent_table
    if table is not None and _planned_rows(conn, table) >= ESTIMATE_FROM_ROWS:
        box = estimated_box(conn, table)
        if box is None:
            return None
        row = conn.execute(
            text(
                f"""SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (
                    SELECT ST_Transform(ST_Segmentize(
                        ST_MakeEnvelope(:x0, :y0, :x1, :y1, {LAMBERT93}), :step), {WGS84}) AS b
                ) e"""
            ),
            {**dict(zip(("x0", "y0", "x1", "y1"), box, strict=True)), "step": DENSIFY_M},
        ).first()
    else:
        row = conn.execute(
            text(
                f"""SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (
                      SELECT ST_Extent(ST_Transform({collection.geom}, {WGS84}))::geometry AS b
                      FROM {collection.source}) e WHERE b IS NOT NULL"""
            )
        ).first()
    return round_outward(row) if row else None


# Edges of an estimated Lambert-93 box are cut every 100 m before their transformation: a
# 100 m chord of those curves strays from them by far less than the 6th decimal's 0.1 m.
DENSIFY_M = 100.0


def round_outward(box: tuple[float, float, float, float] | Any) -> list[float]:
    """A WGS84 box to 6 decimals, minima down and maxima up: it still holds every
    coordinate the GeoJSON writes (rounded to the nearest 6th decimal)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    scale = 10**GEOJSON_DECIMALS
    return [
        math.floor(x0 * scale) / scale,
        math.floor(y0 * scale) / scale,
        math.ceil(x1 * scale) / scale,
        math.ceil(y1 * scale) / scale,
    ]


def _planned_rows(conn: Connection, table: str) -> float:
    return conn.execute(
        text(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_class c "
            "WHERE c.oid = CAST(:t AS regclass) "
            "OR c.oid IN (SELECT relid FROM pg_partition_tree(CAST(:t AS regclass)))"
        ),
        {"t": table},
    ).scalar_one()


def estimated_box(conn: Connection, table: str) -> tuple[float, float, float, float] | None:
    """The Lambert-93 box of ``table``'s ``geom`` from the statistics of each of its leaf
    tables (ST_EstimatedExtent, rounded outward to float4; it cannot read a partitioned
    parent's), or exactly for a leaf never analysed."""
    leaves = conn.execute(
        text(
            "SELECT c.relname FROM pg_partition_tree(CAST(:t AS regclass)) p "
            "JOIN pg_class c ON c.oid = p.relid WHERE p.isleaf"
        ),
        {"t": table},
    ).scalars().all() or [table]
    boxes = []
    for leaf in leaves:
        for box_sql in (
            "ST_EstimatedExtent(current_schema(), :leaf, 'geom')::geometry",
            f'(SELECT ST_Extent(geom)::geometry FROM "{leaf}")',  # never analysed
        ):
            box = conn.execute(
                text(
                    "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) "
                    f"FROM (SELECT {box_sql} AS b) x WHERE b IS NOT NULL"
                ),
                {"leaf": leaf},
            ).first()
            if box is not None:
                boxes.append(box)
                break
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


class ExtentCache:
    """Collection extents, recomputed at most every ``ttl`` seconds."""

    def __init__(self, ttl: float = 600.0) -> None:
        self.ttl = ttl
        self._values: dict[str, tuple[float, list[float] | None]] = {}

    def get(self, conn: Connection, collection: Collection) -> list[float] | None:
        now = time.monotonic()
        cached = self._values.get(collection.id)
        if cached is None or now - cached[0] > self.ttl:
            cached = (now, extent_wgs84(conn, collection))
            self._values[collection.id] = cached
        return cached[1]
