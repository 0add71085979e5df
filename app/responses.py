"""Response classes for bodies already serialised by PostGIS, and their OpenAPI schemas."""

from typing import Any

from fastapi.responses import Response

GEOJSON = "application/geo+json"


class GeoJSONResponse(Response):
    media_type = GEOJSON


# JSON Schema (OpenAPI 3.1) of what PostGIS builds: checked by the schemathesis fuzzing.
_GEOMETRY: dict[str, Any] = {
    "type": ["object", "null"],
    "required": ["type"],
    "properties": {"type": {"type": "string"}},
}
FEATURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"const": "Feature"},
        "id": {"type": ["string", "integer"]},
        "geometry": _GEOMETRY,
        "properties": {"type": ["object", "null"]},
        "links": {"type": "array", "items": {"type": "object"}},
    },
}
FEATURE_COLLECTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
        "links": {"type": "array", "items": {"type": "object"}},
        "features": {"type": "array", "items": FEATURE_SCHEMA},
    },
}


def geojson_response(schema: dict[str, Any], description: str) -> dict[int | str, Any]:
    return {200: {"description": description, "content": {GEOJSON: {"schema": schema}}}}


FEATURE_RESPONSE = geojson_response(FEATURE_SCHEMA, "A GeoJSON Feature (RFC 7946, WGS84)")
COLLECTION_RESPONSE = geojson_response(
    FEATURE_COLLECTION_SCHEMA, "A GeoJSON FeatureCollection (RFC 7946, WGS84)"
)
