"""The OpenAPI document, with the structured query parameters described as what they are.

``weights`` is JSON, ``bbox`` four comma-separated numbers, ``profile`` and ``ruleset``
ids from the shipped data. FastAPI sees them as strings (the routers parse them, with their
own error messages); the document states their real shape, so that a client generator, or
the schemathesis fuzzing (tests/e2e/test_fuzz.py), produces real values and their near misses.

The service declares the OGC ``oas30`` conformance classes: the document is OpenAPI 3.0.3.
FastAPI writes 3.1 (JSON Schema 2020-12); ``to_openapi30`` rewrites what 3.0 says otherwise
(null in types and unions -> ``nullable``, ``const``, ``examples``, ``prefixItems``,
numeric exclusive bounds, type lists). The OGC routes answer 400, not 422, for an invalid
parameter (app.api.errors.is_ogc_path): their operations say so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Response

from app.api.errors import is_ogc_path
from app.services.collections import COLLECTIONS
from app.services.cql2_parse import LANGUAGES
from app.services.crs import CRSS
from geo.scoring.profiles import ALLOWED_WEIGHTS, CRITERIA_NAMES, load_profiles
from geo.zan.rulesets import load_rulesets

WEIGHTS_EXAMPLE = {"zoning": 2, "on_friche": 2, "size_fit": 1}


def _parameters() -> dict[str, Callable[[str], dict[str, Any] | None]]:
    """For each parameter name, its definition on an operation's path (None: leave it)."""
    weights = {
        "in": "query",
        "required": False,
        "description": (
            "Custom weights as a JSON object, criterion to weight (0.5, 1 or 2), e.g. "
            '{"zoning": 2}: replace the profile\'s'
        ),
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": False,
                    "properties": {
                        name: {"type": "number", "enum": list(ALLOWED_WEIGHTS)}
                        for name in CRITERIA_NAMES
                    },
                },
                "example": WEIGHTS_EXAMPLE,
            }
        },
    }
    bbox = {
        "in": "query",
        "required": False,
        "description": "WGS84 longitude/latitude box: minLon,minLat,maxLon,maxLat",
        "style": "form",
        "explode": False,
        "schema": {
            "type": "array",
            "minItems": 4,
            "maxItems": 4,
            "prefixItems": [
                {"type": "number", "minimum": -180, "maximum": 180},
                {"type": "number", "minimum": -90, "maximum": 90},
                {"type": "number", "minimum": -180, "maximum": 180},
                {"type": "number", "minimum": -90, "maximum": 90},
            ],
            "items": {"type": "number"},
        },
        "example": [2.30, 48.67, 2.33, 48.69],
    }
    # OGC API - Features, Part 1: four or six numbers, in bbox-crs (CRS84 by default)
    ogc_bbox = {
        "in": "query",
        "required": False,
        "description": (
            "Box minx,miny,maxx,maxy (4 or 6 numbers) in bbox-crs, CRS84 longitude/latitude "
            "by default: the features whose geometry intersects it"
        ),
        "style": "form",
        "explode": False,
        "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        "example": [2.30, 48.67, 2.33, 48.69],
    }

    def crs(description: str) -> dict[str, Any]:
        return {
            "in": "query",
            "required": False,
            "description": description,
            "schema": {"type": "string", "format": "uri", "enum": list(CRSS)},
        }

    filter_lang = {
        "in": "query",
        "required": False,
        "description": "The filter's encoding (cql2-text by default)",
        "schema": {"type": "string", "enum": list(LANGUAGES)},
    }
    profile = {
        "in": "query",
        "required": False,
        "description": "Scoring profile (default small-industry)",
        "schema": {"type": "string", "enum": sorted(load_profiles())},
    }
    zan_rulesets = sorted(r.id for r in load_rulesets().values() if r.zan is not None)
    ruleset = {
        "in": "query",
        "required": False,
        "description": "ZAN rule set id (default: the one marked default)",
        "schema": {"type": "string", "enum": zan_rulesets},
    }
    return {
        "weights": lambda _path: weights,
        "bbox": lambda path: ogc_bbox if is_ogc_path(path) else bbox,
        "crs": lambda _path: crs("CRS of the geometries returned"),
        "bbox-crs": lambda _path: crs("CRS of bbox"),
        "filter-crs": lambda _path: crs("CRS of the filter's geometries"),
        "filter-lang": lambda _path: filter_lang,
        "profile": lambda _path: profile,
        # the ledger's rule sets (envelopes) are described by its own router
        "ruleset": lambda path: ruleset if path.startswith("/trajectories/") else None,
    }


def describe_parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (an OpenAPI document) with the structured parameters described."""
    described = _parameters()
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            for i, parameter in enumerate(operation.get("parameters", [])):
                make = described.get(parameter.get("name"))
                definition = make(path) if make and parameter.get("in") == "query" else None
                if definition is not None:
                    operation["parameters"][i] = {"name": parameter["name"], **definition}
    return schema


def queryable_parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """The collections' queryables as parameters of /items (Part 3, Queryables as Query
    Parameters): ``?name=value``, refused (400) by the collections that lack ``name``.
    Clients read them here: GDAL's OAPIF driver pushes a ``-where`` down to the server
    only on the properties it finds as parameters of the items path."""
    operation = schema.get("paths", {}).get("/collections/{collectionId}/items", {}).get("get")
    if operation is None:
        return schema
    taken = {p["name"] for p in operation.get("parameters", [])}
    owners: dict[str, list[str]] = {}
    for collection in COLLECTIONS.values():
        for name in collection.queryables:
            owners.setdefault(name, []).append(collection.id)
    for name, ids in owners.items():
        if name in taken:
            continue
        operation.setdefault("parameters", []).append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": f"Equal to (queryable of {', '.join(ids)})",
                "schema": {"type": "string"},
            }
        )
    return schema


def ogc_statuses(schema: dict[str, Any]) -> dict[str, Any]:
    """The OGC operations answer 400 for an invalid parameter, never FastAPI's 422."""
    for path, operations in schema.get("paths", {}).items():
        if not is_ogc_path(path):
            continue
        for operation in operations.values():
            responses = operation.get("responses", {})
            invalid = responses.pop("422", None)
            if operation.get("parameters") and "400" not in responses and invalid:
                responses["400"] = {**invalid, "description": "Invalid parameter"}
    return schema


# JSON Schema keywords that OpenAPI 3.0's Schema Object does not have: dropped.
_NOT_IN_30 = {
    "$schema",
    "$id",
    "$defs",
    "$comment",
    "contentMediaType",
    "contentEncoding",
    "contentSchema",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "dependentSchemas",
    "if",
    "then",
    "else",
    "patternProperties",
    "contains",
    "minContains",
    "maxContains",
    "prefixItems",
}


def _schema30(schema: Any) -> Any:
    """One JSON Schema 2020-12 (as FastAPI writes it) as an OpenAPI 3.0 Schema Object."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _NOT_IN_30:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _schema30(sub) for name, sub in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = _schema30(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            if key != "allOf" and {"type": "null"} in value:
                out["nullable"] = True
            out[key] = [_schema30(sub) for sub in value if sub != {"type": "null"}]
        elif key == "const":
            out["enum"] = [value]
        elif key == "examples":
            if isinstance(value, list) and value:
                out.setdefault("example", value[0])
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        else:
            out[key] = value
    if out.get("type") == "null":
        # a value that must be null (one branch of a oneOf): 3.0 has no "null" type
        out.update({"type": "object", "nullable": True, "enum": [None]})
    types = out.get("type")
    if isinstance(types, list):
        kinds = [t for t in types if t != "null"]
        if len(kinds) < len(types):
            out["nullable"] = True
        if len(kinds) == 1:
            out["type"] = kinds[0]
        else:
            del out["type"]
            if kinds:
                out["anyOf"] = [{"type": t} for t in kinds]
    for union in ("anyOf", "oneOf"):
        members = out.get(union)
        if out.get("nullable") and isinstance(members, list) and len(members) == 1:
            # X or null: X, nullable
            del out[union]
            only = members[0]
            if "$ref" in only:
                out["allOf"] = [only]
            else:
                out.update({k: v for k, v in only.items() if k not in out})
    if "enum" in out and None in out["enum"]:
        out["nullable"] = True
    if out.get("type") == "array" and "items" not in out:
        out["items"] = {}
    if "$ref" in out and len(out) > 1:
        # 3.0 ignores a $ref's siblings: keep them beside it through allOf
        out = {**{k: v for k, v in out.items() if k != "$ref"}, "allOf": [{"$ref": out["$ref"]}]}
    return out


def _content30(content: dict[str, Any]) -> None:
    for media in content.values():
        if "schema" in media:
            media["schema"] = _schema30(media["schema"])


def to_openapi30(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (FastAPI's OpenAPI 3.1 document) as an OpenAPI 3.0.3 document."""
    schema["openapi"] = "3.0.3"
    for key in ("webhooks", "jsonSchemaDialect"):
        schema.pop(key, None)
    schema.get("info", {}).pop("summary", None)
    components = schema.get("components", {})
    components["schemas"] = {
        name: _schema30(sub) for name, sub in components.get("schemas", {}).items()
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if "schema" in parameter:
                    # an absent parameter is not a null one
                    parameter["schema"] = _schema30(parameter["schema"])
                    parameter["schema"].pop("nullable", None)
                _content30(parameter.get("content", {}))
            _content30(operation.get("requestBody", {}).get("content", {}))
            for response in operation.get("responses", {}).values():
                _content30(response.get("content", {}))
                for header in response.get("headers", {}).values():
                    if "schema" in header:
                        header["schema"] = _schema30(header["schema"])
    return schema


def _bounded(schema: dict[str, Any]) -> bool:
    return "maximum" in schema or any(_bounded(s) for s in schema.get("anyOf", []))


def page_limits(schema: dict[str, Any], default: int, maximum: int) -> dict[str, Any]:
    """``schema`` with each ``limit`` query parameter that declares no bound of its own (the
    paged collections: their default and maximum are settings) given both."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("name") != "limit" or parameter.get("in") != "query":
                    continue
                if _bounded(parameter.get("schema", {})):
                    continue
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": maximum,
                    "default": default,
                }
                parameter["description"] = f"Page size: {default} by default, at most {maximum}"
    return schema


# OpenAPI 3.0 in JSON (the landing page's service-desc link announces this media type)
OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
OPENAPI_PATH = "/openapi.json"


def install(app: FastAPI) -> None:
    """The document at /openapi.json, as OpenAPI 3.0.3, served with its own media type
    (create_app leaves FastAPI's own route out)."""
    generate = app.openapi
    settings = app.state.settings

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = ogc_statuses(queryable_parameters(describe_parameters(generate())))
            document = page_limits(document, settings.default_page_size, settings.max_page_size)
            app.openapi_schema = to_openapi30(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get(OPENAPI_PATH, include_in_schema=False)
    def openapi_document() -> Response:
        return Response(json.dumps(app.openapi()), media_type=OPENAPI_MEDIA_TYPE)
