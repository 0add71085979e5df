"""Mapbox vector tiles of the OGC collections, built by ST_AsMVT in one query per tile."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

import httpx
import numpy as np
from pyproj import Transformer
from sqlalchemy import Connection, text

from app.services.collections import Collection
from app.services.tile_cache import Sized, TileCache
from geo.crs import LAMBERT93
from geo.db.tile_generation import tile_version_sql
from geo.errors import Invalid, NotFound
from geo.territories import LEVELS

MAX_ZOOM = 16  # deeper zooms are drawn by the clients from z16 tiles (overzoom)
SIMPLIFIED_BELOW_ZOOM = MAX_ZOOM  # the geometries of the tiles below are simplified (tile())
EXTENT = 4096  # MVT grid units per tile side
BUFFER = 64
WEB_MERCATOR_WORLD_M = 2 * math.pi * 6378137


def simplify_tolerance_m(z: int) -> float:
    """Half a tile grid unit on the ground in France (Web Mercator stretches by ~1/cos(46°)).

    Finer detail than this is snapped away by ST_AsMVTGeom anyway; simplifying first in
    Lambert-93 saves clipping, validating and encoding vertices nobody will see. Parcels
    carry many nearly aligned vertices: at z14 this halves them in the densest tile, and
    ST_AsMVTGeom (the tile's main cost) takes a quarter less time (bench/README.md).
    """
    return WEB_MERCATOR_WORLD_M / 2**z / EXTENT * math.cos(math.radians(46)) / 2


# From this zoom the geometries are taken to Web Mercator by one affine map per tile
# instead of ST_Transform (a third of a dense z14 tile's time, bench/README.md): over a tile
# and its buffer the two projections differ from an affine map by at most 0.6 grid units
# at z13, 0.3 at z14, 0.08 at z16 (1/16 of a pixel of a 256-pixel tile per unit; measured
# in tests/ogc/test_ogc.py), below the grid's own rounding.
AFFINE_FROM_ZOOM = 13


@cache
def _to_lambert93() -> Transformer:
    return Transformer.from_crs(3857, LAMBERT93, always_xy=True)


def lambert93_to_tile_affine(z: int, x: int, y: int) -> dict[str, float]:
    """ST_Affine's coefficients (a, b, d, e, xoff, yoff) taking Lambert-93 to Web Mercator
    over tile z/x/y and its buffer: the least-squares fit on a 4 x 4 grid of its points."""
    size = WEB_MERCATOR_WORLD_M / 2**z
    margin = size * BUFFER / EXTENT
    xmin = -WEB_MERCATOR_WORLD_M / 2 + x * size - margin
    ymin = WEB_MERCATOR_WORLD_M / 2 - (y + 1) * size - margin
    steps = np.linspace(0, size + 2 * margin, 4)
    merc_x, merc_y = (a.ravel() for a in np.meshgrid(xmin + steps, ymin + steps))
    l93_x, l93_y = _to_lambert93().transform(merc_x, merc_y)
    design = np.column_stack([l93_x, l93_y, np.ones_like(l93_x)])
    (a, d), (b, e), (xoff, yoff) = np.linalg.lstsq(
        design, np.column_stack([merc_x, merc_y]), rcond=None
    )[0].tolist()  # Python floats, as the driver binds them
    return {"a": a, "b": b, "d": d, "e": e, "xoff": xoff, "yoff": yoff}


def tile_in_range(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


# The tile and its buffer in Lambert-93, densified so that the box covers the whole curved
# tile: what a tile's features are tested against, and its version is read over.
_L93_BOUNDS = (
    "ST_Transform(ST_Segmentize(ST_TileEnvelope(:z, :x, :y, margin => :margin), :segment), "
    f"{LAMBERT93})"
)


def _bounds_params(z: int, x: int, y: int) -> dict[str, float | int]:
    return {
        "z": z,
        "x": x,
        "y": y,
        "margin": BUFFER / EXTENT,
        "segment": WEB_MERCATOR_WORLD_M / 2**z / 8,
    }


def tile_version(conn: Connection, z: int, x: int, y: int) -> int:
    """The version of what tile z/x/y shows (geo.db.tile_generation): it rises with every
    write under the tile, in every process."""
    return conn.execute(text(tile_version_sql(_L93_BOUNDS)), _bounds_params(z, x, y)).scalar_one()


T = TypeVar("T", bound=Sized)


def cached_tile(
    conn: Connection,
    cache: TileCache[T],
    collection: Collection,
    z: int,
    x: int,
    y: int,
    encode: Callable[[bytes], T],
) -> T:
    """Tile z/x/y encoded by ``encode``, from ``cache`` when made at its current version.

    Only the collections whose every write bumps the generations (Collection.tiles_versioned)
    are cached; the others are made each time. The version is read before the tile, each
    statement seeing the data committed when it starts: the tile is never older than the
    version it is stored under."""
    if not collection.tiles_versioned or cache.max_bytes == 0 or z < collection.min_zoom:
        return encode(tile(conn, collection, z, x, y))
    key = (collection.id, z, x, y, tile_version(conn, z, x, y))
    return cache.get_or_make(key, lambda: encode(tile(conn, collection, z, x, y)))


def tile(conn: Connection, collection: Collection, z: int, x: int, y: int) -> bytes:
    """One tile, a single layer named after the collection (empty below its minimum zoom);
    each feature with a numeric id (Collection.tile_id_sql) and its key as the "id" property."""
    if z < collection.min_zoom:
        return b""
    tolerance = simplify_tolerance_m(z)
    geom = collection.geom
    # Below the grid resolution a simplified polygon collapses: it is dropped, as
    # ST_AsMVTGeom would drop it, which is what a map wants at low zoom. Not at the last
    # zoom: clients magnify its tiles (overzoom), where two neighbours simplified each on
    # its own could show a sliver between them; on the grid alone their shared vertices
    # stay shared.
    drawn = f"ST_Simplify({geom}, {tolerance})" if z < SIMPLIFIED_BELOW_ZOOM else geom
    affine = z >= AFFINE_FROM_ZOOM
    mercator = (
        f"ST_SetSRID(ST_Affine({drawn}, :a, :b, :d, :e, :xoff, :yoff), 3857)"
        if affine
        else f"ST_Transform({drawn}, 3857)"
    )
    properties = ", ".join(
        f'{collection.properties[name]} AS "{name}"' for name in collection.tile_properties
    )
    # Not flattened into a WHERE on ST_AsMVTGeom (which would compute it twice): ST_AsMVT
    # itself skips the rows whose geometry fell outside the tile (NULL).
    sql = f"""
        WITH bounds AS (
            SELECT ST_TileEnvelope(:z, :x, :y) AS merc, {_L93_BOUNDS} AS l93
        )
        SELECT ST_AsMVT(features, :layer, {EXTENT}, 'geom', 'mvt_id') FROM (
            SELECT ST_AsMVTGeom({mercator}, bounds.merc, {EXTENT}, {BUFFER}) AS geom,
                   {collection.tile_id_sql()} AS mvt_id,
                   {collection.key}::text AS id{", " + properties if properties else ""}
            FROM {collection.source} CROSS JOIN bounds
            WHERE ({geom}) && bounds.l93
        ) features
    """
    params = {
        **_bounds_params(z, x, y),
        "layer": collection.id,
        **(lambert93_to_tile_affine(z, x, y) if affine else {}),
    }
    # One process per tile: parallel workers cost more to start than they save here, and
    # a serial scan returns rows in the same order every time, so the same data gives the
    # same bytes (and ETag) without sorting.
    conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    return bytes(conn.execute(text(sql), params).scalar_one())


def _territory_tiles_sql(members: str) -> str:
    """The tiles of zoom :z meeting the communes ``members`` selects (LEVELS): each
    commune's outline or, where the administrative files gave it none, the box of its
    parcels; each commune's tiles searched over its own box, so that the work follows the
    territory's area, not its box's."""
    return f"""
        WITH area AS MATERIALIZED (
            SELECT coalesce(c.geom, (
                SELECT ST_SetSRID(ST_Extent(p.geom), {LAMBERT93}) FROM parcel p
                WHERE p.departement_code = c.departement_code AND p.commune_insee = c.insee
            )) AS geom
            FROM commune c WHERE {members}
        ), ranges AS (
            SELECT a.geom,
                   greatest(floor((ST_XMin(m) + :half) / :size), 0)::int AS x0,
                   least(floor((ST_XMax(m) + :half) / :size), :last)::int AS x1,
                   greatest(floor((:half - ST_YMax(m)) / :size), 0)::int AS y0,
                   least(floor((:half - ST_YMin(m)) / :size), :last)::int AS y1
            FROM area a
            CROSS JOIN LATERAL ST_Transform(
                ST_Segmentize(ST_Envelope(a.geom), 1000), 3857) AS m
            WHERE a.geom IS NOT NULL
        )
        SELECT DISTINCT x, y
        FROM ranges r, generate_series(r.x0, r.x1) x, generate_series(r.y0, r.y1) y
        WHERE ST_Intersects(r.geom, ST_Transform(ST_Segmentize(
            ST_TileEnvelope(CAST(:z AS int), x, y), :segment), {LAMBERT93}))
        ORDER BY y, x"""


def territory_tiles(
    conn: Connection, level: str, code: str, zooms: Iterable[int]
) -> list[tuple[int, int, int]]:
    """The tiles (z, x, y) of ``zooms`` over the territory ``code`` of ``level``: those
    meeting one of its communes, by zoom then row."""
    if level not in LEVELS or not LEVELS[level].is_code(code):
        raise Invalid(f"{code!r} is not a {level} code")
    members = LEVELS[level].members
    zooms = list(zooms)
    for z in zooms:
        if not 0 <= z <= MAX_ZOOM:
            raise Invalid(f"zoom {z} is not between 0 and {MAX_ZOOM}")
    communes = conn.execute(
        text(f"SELECT count(*) FROM commune c WHERE {members}"), {"code": code}
    ).scalar_one()
    if not communes:
        raise NotFound(f"no commune in {level} {code}")
    found = []
    for z in zooms:
        size = WEB_MERCATOR_WORLD_M / 2**z
        rows = conn.execute(
            text(_territory_tiles_sql(members)),
            {
                "code": code,
                "z": z,
                "half": WEB_MERCATOR_WORLD_M / 2,
                "size": size,
                "last": 2**z - 1,
                "segment": size / 8,
            },
        ).all()
        found += [(z, x, y) for x, y in rows]
    return found


@dataclass
class WarmReport:
    tiles: int
    empty: int
    failed: int
    bytes: int
    seconds: float

    def lines(self) -> list[str]:
        rate = self.tiles / self.seconds if self.seconds else 0
        return [
            f"warmed {self.tiles} tiles ({self.empty} empty, {self.failed} failed, "
            f"{self.bytes / 1e6:.1f} MB) in {self.seconds:.1f} s ({rate:.0f} tiles/s)"
        ]


def warm_tiles(
    client: httpx.Client,
    collection: str,
    tiles: list[tuple[int, int, int]],
    *,
    workers: int = 2,
) -> WarmReport:
    """Request each tile of ``collection`` from the service ``client`` talks to, so that
    its tile cache holds them (app.services.tile_cache). The cache is each process's own:
    a server of several workers has each tile warmed in the worker that answered."""
    started = time.perf_counter()

    def fetch(tile: tuple[int, int, int]) -> tuple[int, int]:
        z, x, y = tile
        response = client.get(f"tiles/{collection}/{z}/{x}/{y}.mvt")
        return response.status_code, len(response.content)

    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        answers = list(pool.map(fetch, tiles))
    return WarmReport(
        tiles=len(tiles),
        empty=sum(status == 204 for status, _ in answers),
        failed=sum(status not in (200, 204) for status, _ in answers),
        bytes=sum(size for _, size in answers),
        seconds=time.perf_counter() - started,
    )


# What a styled map reads from the tiles' properties (TileJSON vector_layers fields).
FIELD_TEXT = {
    "id": "the feature's id in the OGC collection (the tile's numeric feature id encodes it)",
    "commune": "commune INSEE code",
    "section": "cadastre section",
    "numero": "cadastre parcel number",
    "area_m2": "area in square metres (Lambert-93)",
    "score": "score for industrial reconversion under the default profile, 0 to 100",
    "excluded": "true when the default profile's rules exclude the parcel",
    "land_use": "vacant, underused or built (buildings on the parcel)",
    "zoning": "zoning class of the planning document: activity, housing, mixed, "
    "agricultural, natural or other",
    "name": "name",
    "epci": "SIREN of the EPCI",
    "type": "legal form",
    "kind": "kind of site",
    "site_type": "type of site",
    "site_statut": "status of the site",
    "vocadomi": "dominant vocation",
    "surf_brute_ha": "gross area in hectares",
    "status": "current status in the envelope ledger",
    "naf_ha": "NAF consumption in hectares",
}
# TileJSON field values as tippecanoe writes them: the type first
_MVT_TYPES = {"integer": "Number", "number": "Number", "boolean": "Boolean"}


def tile_fields(collection: Collection) -> dict[str, str]:
    """Each property of the collection's tiles: its type, then what it says."""
    names = ("id", *collection.tile_properties)
    return {
        name: f"{_MVT_TYPES.get(collection.type_of(name), 'String')}: {FIELD_TEXT.get(name, name)}"
        for name in names
    }


def tilejson(collection: Collection, base_url: str, bounds: list[float] | None) -> dict:
    fields = tile_fields(collection)
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
        "attribution": "Foncier ; données : Etalab, Cerema, DGALN (Licence Ouverte 2.0)",
    }


# OGC API - Tiles: the tiles above are the WebMercatorQuad tile matrix set's (OGC 17-083r4
# annex D), tile matrix = z, row = y, column = x.
WEB_MERCATOR_QUAD = "WebMercatorQuad"
_ORIGIN = WEB_MERCATOR_WORLD_M / 2
_TILE_SIZE = 256
# the standard pixel of 0.28 mm
_SCALE_0 = WEB_MERCATOR_WORLD_M / _TILE_SIZE / 0.00028


def tile_matrix_set() -> dict:
    """WebMercatorQuad as an OGC Two Dimensional Tile Matrix Set (2.0) JSON document."""
    return {
        "id": WEB_MERCATOR_QUAD,
        "title": "Google Maps Compatible for the World",
        "uri": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": [
            {
                "id": str(z),
                "scaleDenominator": _SCALE_0 / 2**z,
                "cellSize": WEB_MERCATOR_WORLD_M / _TILE_SIZE / 2**z,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-_ORIGIN, _ORIGIN],
                "tileWidth": _TILE_SIZE,
                "tileHeight": _TILE_SIZE,
                "matrixWidth": 2**z,
                "matrixHeight": 2**z,
            }
            for z in range(MAX_ZOOM + 1)
        ],
    }


def tileset(collection: Collection, base_url: str) -> dict:
    """The tileset metadata of a collection's vector tiles (OGC API - Tiles, tileset)."""
    tiles = f"{base_url}collections/{collection.id}/tiles/{WEB_MERCATOR_QUAD}"
    fields = {
        name: {
            "type": _MVT_TYPES.get(collection.type_of(name), "String").lower(),
            "description": FIELD_TEXT.get(name, name),
        }
        for name in ("id", *collection.tile_properties)
    }
    return {
        "title": f"{collection.title} (vector tiles)",
        "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
        "tileMatrixSetLimits": [
            {
                "tileMatrix": str(z),
                "minTileRow": 0,
                "maxTileRow": 2**z - 1,
                "minTileCol": 0,
                "maxTileCol": 2**z - 1,
            }
            for z in range(collection.min_zoom, MAX_ZOOM + 1)
        ],
        "layers": [
            {
                "id": collection.id,
                "dataType": "vector",
                "minTileMatrix": str(collection.min_zoom),
                "maxTileMatrix": str(MAX_ZOOM),
                "propertiesSchema": {"type": "object", "properties": fields},
            }
        ],
        "links": [
            {"href": tiles, "rel": "self", "type": "application/json"},
            {
                "href": f"{base_url}tileMatrixSets/{WEB_MERCATOR_QUAD}",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                "type": "application/json",
            },
            {
                "href": f"{base_url}collections/{collection.id}",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/geodata",
                "type": "application/json",
            },
            {
                "href": f"{tiles}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}",
                "rel": "item",
                "type": "application/vnd.mapbox-vector-tile",
                "templated": True,
            },
        ],
    }
