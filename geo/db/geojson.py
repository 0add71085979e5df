"""GeoJSON written by PostGIS: one expression for every geometry and feature of the answers
and exports (RFC 7946: WGS84, 6 decimals, unless another CRS is asked)."""

from __future__ import annotations

from typing import Protocol

from geo.crs import GEOJSON_DECIMALS, LAMBERT93, WGS84


def as_geojson_sql(geom: str, decimals: int = GEOJSON_DECIMALS) -> str:
    """SQL text of ``geom`` (already in the output CRS) as GeoJSON: polygon rings follow the
    right-hand rule of RFC 7946 §3.1.6 (outer rings counter-clockwise, holes clockwise),
    whatever orientation the source files had."""
    return f"ST_AsGeoJSON(ST_ForcePolygonCCW({geom}), {int(decimals)})"


def lambert93_as_geojson_sql(
    column: str, srid: int = WGS84, decimals: int = GEOJSON_DECIMALS, lat_first: bool = False
) -> str:
    """SQL text: a Lambert-93 geometry as GeoJSON (text), or null. RFC 7946 by default;
    another ``srid`` (and axis order) for OGC API Features, Part 2, and exports."""
    geom = column if srid == LAMBERT93 else f"ST_Transform({column}, {int(srid)})"
    if lat_first:
        # Rings oriented before the axes are swapped: the right-hand rule is about the
        # ground, not about the order the coordinates are written in.
        geom = f"ST_FlipCoordinates(ST_ForcePolygonCCW({geom}))"
        return f"ST_AsGeoJSON({geom}, {int(decimals)})"
    return as_geojson_sql(geom, decimals)


class OutputCrs(Protocol):
    """The CRS geometries are written in (app.services.crs.Crs): its EPSG code, the
    decimals of its coordinates, and whether latitude comes first (EPSG:4326 in GeoJSON)."""

    @property
    def srid(self) -> int: ...

    @property
    def decimals(self) -> int: ...

    @property
    def lat_first(self) -> bool: ...


def output_geojson_sql(column: str, crs: OutputCrs | None = None) -> str:
    """SQL text: a Lambert-93 geometry as GeoJSON in ``crs`` (RFC 7946's when None)."""
    if crs is None:
        return lambert93_as_geojson_sql(column)
    return lambert93_as_geojson_sql(column, crs.srid, crs.decimals, crs.lat_first)


def geometry_sql(
    column: str, srid: int = WGS84, decimals: int = GEOJSON_DECIMALS, lat_first: bool = False
) -> str:
    """SQL expression: a Lambert-93 geometry column as a GeoJSON geometry (json), or null.
    RFC 7946 by default; another ``srid`` (and axis order) for OGC API Features, Part 2."""
    return f"{lambert93_as_geojson_sql(column, srid, decimals, lat_first)}::json"


def feature_sql(
    id_sql: str, geom_sql: str, properties_sql: str, geometry: str | None = None
) -> str:
    """SQL expression building one GeoJSON Feature as json (key order kept); ``geometry``:
    the geometry's own SQL (geometry_sql with another CRS), WGS84 when not given."""
    return (
        f"json_build_object('type', 'Feature', 'id', {id_sql}, "
        f"'geometry', {geometry or geometry_sql(geom_sql)}, 'properties', {properties_sql})"
    )
