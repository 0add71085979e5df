"""Small SQL pieces shared by the GeoJSON-producing queries (RFC 7946: WGS84, 6 decimals)."""

from __future__ import annotations

import json
from typing import Any

from geo.crs import GEOJSON_DECIMALS, WGS84
from geo.db.count import Matched
from geo.db.geojson import lambert93_as_geojson_sql


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


def feature_collection(
    features_json: str,
    number_matched: Matched,
    number_returned: int,
    links: list[dict[str, Any]],
    **members: Any,
) -> str:
    """Wrap a JSON array of features made by PostGIS, without parsing it again in Python;
    ``members`` (e.g. timeStamp) come after "type"."""
    head = json.dumps(
        {
            "type": "FeatureCollection",
            **members,
            **number_matched.members(),
            "numberReturned": number_returned,
            "links": links,
        }
    )
    return f'{head[:-1]}, "features": {features_json}}}'
