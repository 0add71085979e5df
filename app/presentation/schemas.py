"""JSON Schemas of a collection's features, built from its declaration (app.services.collections):
the properties and their types are written once there, and read here by the three documents
clients ask for, so that they cannot disagree.

- the collection's schema (OGC API - Features, Part 5 "Schemas"): every property, typed, the
  feature id and the primary geometry marked by ``x-ogc-role``;
- the schema of a feature as the items encode it (GeoJSON: ``id``, ``geometry`` and the
  properties nested in ``properties``), the ``describedby`` of a collection: the form GDAL's
  OAPIF driver reads to type its fields (it would otherwise guess them from the first page,
  where a property that happens to be null there becomes text);
- the queryables (Part 3): the properties a filter may name, with the same types.
"""

from __future__ import annotations

from typing import Any

from app.services.collections import Collection

JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
# the formats a declared type may be, rather than a JSON type (app.services.collections)
_FORMATS = ("date", "date-time")


def property_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one property of declared type ``kind``."""
    if kind == "geometry":
        return {"format": "geometry-any", "x-ogc-role": "primary-geometry"}
    if kind in _FORMATS:
        return {"type": "string", "format": kind}
    if kind == "array":
        return {"type": "array", "items": {"type": "object"}}
    return {"type": kind}


def _id_schema(collection: Collection) -> dict[str, Any]:
    return {
        "title": "feature id",
        "type": "integer" if collection.key_is_int else "string",
        "x-ogc-role": "id",
        "readOnly": True,
    }


def _properties(collection: Collection) -> dict[str, Any]:
    return {
        name: {"title": name, **property_schema(collection.type_of(name))}
        for name in collection.properties
    }


def collection_schema(collection: Collection, url: str) -> dict[str, Any]:
    """The collection's schema (Part 5): every property of its features, typed; ``id`` and
    ``geometry`` by their role. A property without a value is null."""
    return {
        "$schema": JSON_SCHEMA,
        "$id": url,
        "type": "object",
        "title": collection.title,
        "description": collection.description,
        "properties": {
            "id": _id_schema(collection),
            "geometry": {
                "title": "geometry",
                "format": collection.geometry_format,
                "x-ogc-role": "primary-geometry",
            },
            **_properties(collection),
        },
    }


def geojson_feature_schema(collection: Collection, url: str) -> dict[str, Any]:
    """A feature of the collection as the items encode it: a GeoJSON Feature whose
    ``properties`` member holds the typed properties."""
    return {
        "$schema": JSON_SCHEMA,
        "$id": url,
        "type": "object",
        "title": f"{collection.title} (GeoJSON feature)",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": _id_schema(collection),
            "geometry": {
                "type": "object",
                "format": collection.geometry_format,
                "x-ogc-role": "primary-geometry",
            },
            "properties": {"type": "object", "properties": _properties(collection)},
        },
    }


def queryables_schema(collection: Collection, url: str) -> dict[str, Any]:
    """The queryables (Part 3): what a filter may name, typed as in the collection's schema."""
    return {
        "$schema": JSON_SCHEMA,
        "$id": url,
        "type": "object",
        "title": collection.title,
        "properties": {
            name: {"title": name, **property_schema(q.type)}
            for name, q in collection.filterables().items()
        },
        "additionalProperties": False,
    }
