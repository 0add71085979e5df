"""Mapbox vector tiles of the OGC collections, built by ST_AsMVT in one query per tile."""

from __future__ import annotations

import math

from sqlalchemy import Connection, text

from app.services.features import Collection
from geo.crs import LAMBERT93

MAX_ZOOM = 16  # deeper zooms are drawn by the clients from z16 tiles (overzoom)
EXTENT = 4096  # MVT grid units per tile side
BUFFER = 64
WEB_MERCATOR_WORLD_M = 2 * math.pi * 6378137


def simplify_tolerance_m(z: int) -> float:
    """Half a tile grid unit on the ground in France (Web Mercator stretches by ~1/cos(46°)).

    Finer detail than this is snapped away by ST_AsMVTGeom anyway; simplifying first in
    Lambert-93 saves encoding vertices nobody will see.
    """
    return WEB_MERCATOR_WORLD_M / 2**z / EXTENT * math.cos(math.radians(46)) / 2


def tile_in_range(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def tile(conn: Connection, collection: Collection, z: int, x: int, y: int) -> bytes:
    """One tile, a single layer named after the collection (empty below its minimum zoom)."""
    if z < collection.min_zoom:
        return b""
    tolerance = simplify_tolerance_m(z)
    geom = collection.geom
    # Below the grid resolution a simplified polygon collapses: it is dropped, which is
    # what a map wants at low zoom (parcels are only served from z13 anyway).
    drawn = f"ST_Simplify({geom}, {tolerance})" if tolerance > 0.5 else geom
    properties = ", ".join(
        f'{collection.properties[name]} AS "{name}"' for name in collection.tile_properties
    )
    # Not flattened into a WHERE on ST_AsMVTGeom (which would compute it twice): ST_AsMVT
    # itself skips the rows whose geometry fell outside the tile (NULL).
    sql = f"""
        WITH bounds AS (
            SELECT ST_TileEnvelope(:z, :x, :y) AS merc,
                   -- densified, so that the Lambert-93 box covers the whole curved tile
                   ST_Transform(ST_Segmentize(ST_TileEnvelope(:z, :x, :y, margin => :margin),
                                              :segment), {LAMBERT93}) AS l93
        )
        SELECT ST_AsMVT(features, :layer, {EXTENT}, 'geom') FROM (
            SELECT ST_AsMVTGeom(ST_Transform({drawn}, 3857), bounds.merc, {EXTENT}, {BUFFER})
                       AS geom,
                   {collection.key}::text AS id{", " + properties if properties else ""}
            FROM {collection.source} CROSS JOIN bounds
            WHERE ({geom}) && bounds.l93
        ) features
    """
    params = {
        "z": z,
        "x": x,
        "y": y,
        "layer": collection.id,
        "margin": BUFFER / EXTENT,
        "segment": WEB_MERCATOR_WORLD_M / 2**z / 8,
    }
    # One process per tile: parallel workers cost more to start than they save here, and
    # a serial scan returns rows in the same order every time, so the same data gives the
    # same bytes (and ETag) without sorting.
    conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    return bytes(conn.execute(text(sql), params).scalar_one())


def tilejson(collection: Collection, base_url: str, bounds: list[float] | None) -> dict:
    fields = {"id": "feature id", **{name: name for name in collection.tile_properties}}
    return {
        "tilejson": "3.0.0",
        "name": collection.title,
        "description": collection.description,
        "tiles": [f"{base_url}tiles/{collection.id}/{{z}}/{{x}}/{{y}}.mvt"],
        "minzoom": collection.min_zoom,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds or [-5.5, 41.0, 10.0, 51.5],
        "vector_layers": [
            {
                "id": collection.id,
                "description": collection.title,
                "minzoom": collection.min_zoom,
                "maxzoom": MAX_ZOOM,
                "fields": fields,
            }
        ],
        "attribution": "Foncier; data: Etalab, Cerema, DGALN (Licence Ouverte 2.0)",
    }
