"""GeoJSON geometries written by PostGIS: one expression for every answer and export."""

from __future__ import annotations

from geo.crs import GEOJSON_DECIMALS


def as_geojson_sql(geom: str, decimals: int = GEOJSON_DECIMALS) -> str:
    """SQL text of ``geom`` (already in the output CRS) as GeoJSON: polygon rings follow the
    right-hand rule of RFC 7946 §3.1.6 (outer rings counter-clockwise, holes clockwise),
    whatever orientation the source files had."""
    return f"ST_AsGeoJSON(ST_ForcePolygonCCW({geom}), {int(decimals)})"
