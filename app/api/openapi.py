"""The OpenAPI document, with the structured query parameters described as what they are.

``weights`` is JSON, ``bbox`` four comma-separated numbers, ``profile`` and ``ruleset``
ids from the shipped data. FastAPI sees them as strings (the routers parse them, with their
own error messages); the document states their real shape, so that a client generator, or
the schemathesis fuzzing (tests/test_fuzz.py), produces real values and their near misses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

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
        "bbox": lambda _path: bbox,
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


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_parameters(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
