"""OGC API - Features over the collections of app.services.features: Part 1 (Core, GeoJSON,
OpenAPI 3.0), Part 2 (CRS by reference) and Part 3 (queryables, CQL2 filters). The
landing page's HTML face is the map (app.api.routers.home); the tiles are in
app.api.routers.tiles (OGC API - Tiles)."""

from __future__ import annotations

import datetime
import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from app.api.dependencies import (
    CollectionDep,
    OgcItemsDep,
    OutputCrsDep,
    ReadConnectionDep,
    parse_key,
)
from app.api.errors import InvalidParameter
from app.api.responses import (
    COLLECTION_RESPONSE,
    FEATURE_RESPONSE,
    GeoJSONResponse,
    SchemaJSONResponse,
    base_url,
    link_to,
)
from app.presentation.export import export_items, with_exports
from app.presentation.geojson import feature_collection
from app.services.crs import CRS84, CRSS, STORAGE, Crs
from app.services.features import COLLECTIONS, Collection, item, items_page
from geo.errors import NotFound

router = APIRouter(tags=["OGC API - Features"])

_FEATURES = "http://www.opengis.net/spec/ogcapi-features-"
_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
_TILES = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"
CONFORMANCE = [
    f"{_FEATURES}1/1.0/conf/core",
    f"{_FEATURES}1/1.0/conf/geojson",
    f"{_FEATURES}1/1.0/conf/oas30",
    f"{_FEATURES}2/1.0/conf/crs",
    f"{_FEATURES}3/1.0/conf/queryables",
    f"{_FEATURES}3/1.0/conf/queryables-query-parameters",
    f"{_FEATURES}3/1.0/conf/filter",
    f"{_FEATURES}3/1.0/conf/features-filter",
    f"{_CQL2}cql2-text",
    f"{_CQL2}cql2-json",
    f"{_CQL2}basic-cql2",
    f"{_CQL2}advanced-comparison-operators",
    f"{_CQL2}basic-spatial-functions",
    f"{_CQL2}basic-spatial-functions-plus",
    f"{_CQL2}spatial-functions",
    f"{_CQL2}property-property",
    f"{_TILES}core",
    f"{_TILES}tileset",
    f"{_TILES}tilesets-list",
    f"{_TILES}geodata-tilesets",
    f"{_TILES}oas30",
    f"{_TILES}mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"


def content_crs(crs: Crs) -> dict[str, str]:
    """The Content-Crs header of a response whose geometries are in ``crs`` (Part 2)."""
    return {"Content-Crs": f"<{crs.uri}>"}


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def get_landing_page(request: Request) -> dict[str, Any]:
    base = base_url(request)
    return {
        "title": "Foncier",
        "description": (
            "Land for French reindustrialisation: cadastre parcels ranked for industry, "
            "friches, economic zones, territories and the artificialisation envelope."
        ),
        "links": [
            _link(f"{base}?f=json", "self", "application/json", "This document"),
            _link(base, "alternate", "text/html", "The map"),
            _link(
                f"{base}openapi.json",
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.0",
                "The API definition",
            ),
            _link(f"{base}docs", "service-doc", "text/html", "The API documentation"),
            _link(f"{base}conformance", "conformance", "application/json", "Conformance"),
            _link(f"{base}collections", "data", "application/json", "Collections"),
            _link(
                f"{base}tileMatrixSets",
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                "application/json",
                "Tile matrix sets (OGC API - Tiles)",
            ),
        ],
    }


@router.get("/conformance", summary="Conformance classes implemented")
def get_conformance() -> dict[str, list[str]]:
    return {"conformsTo": CONFORMANCE}


def _describe(request: Request, conn, collection: Collection) -> dict[str, Any]:
    base = f"{base_url(request)}collections/{collection.id}"
    description: dict[str, Any] = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "crs": list(CRSS),
        "storageCrs": STORAGE.uri,
        "links": [
            _link(base, "self", "application/json"),
            _link(f"{base}/items", "items", "application/geo+json", "Features"),
            _link(
                f"{base}/queryables",
                QUERYABLES_REL,
                "application/schema+json",
                "Properties a request may filter on",
            ),
            _link(
                f"{base}/tiles",
                "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                "application/json",
                "Vector tilesets (OGC API - Tiles)",
            ),
            _link(
                f"{base_url(request)}tiles/{collection.id}/tilejson.json",
                "describedby",
                "application/json",
                "Vector tiles (TileJSON)",
            ),
        ],
    }
    bbox = request.app.state.extents.get(conn, collection)
    if bbox:
        description["extent"] = {"spatial": {"bbox": [bbox], "crs": CRS84}}
    return description


@router.get("/collections", summary="The feature collections")
def list_collections(request: Request, conn: ReadConnectionDep) -> dict[str, Any]:
    return {
        "links": [_link(f"{base_url(request)}collections", "self", "application/json")],
        "collections": [_describe(request, conn, c) for c in COLLECTIONS.values()],
    }


@router.get("/collections/{collectionId}", summary="One feature collection")
def get_collection(collection: CollectionDep, request: Request, conn: ReadConnectionDep) -> dict:
    return _describe(request, conn, collection)


def _queryable_schema(kind: str) -> dict[str, Any]:
    if kind == "geometry":
        return {"format": "geometry-any", "x-ogc-role": "primary-geometry"}
    if kind in ("date", "date-time"):
        return {"type": "string", "format": kind}
    return {"type": kind}


@router.get(
    "/collections/{collectionId}/queryables",
    response_class=SchemaJSONResponse,
    responses={200: {"content": {"application/schema+json": {}}}},
    summary="Properties of a collection usable in filters (?name=value, or CQL2 `filter`)",
)
def get_queryables(collection: CollectionDep, request: Request) -> SchemaJSONResponse:
    return SchemaJSONResponse(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{base_url(request)}collections/{collection.id}/queryables",
            "type": "object",
            "title": collection.title,
            "properties": {
                name: {"title": name, **_queryable_schema(q.type)}
                for name, q in collection.filterables().items()
            },
            "additionalProperties": False,
        }
    )


@router.get(
    "/collections/{collectionId}/items",
    response_class=GeoJSONResponse,
    responses=with_exports(COLLECTION_RESPONSE, "application/geo+json"),
    summary="Features of a collection, in id order, paged by the `next` link",
    description=(
        "Besides `bbox`, `limit`, `cursor`, `datetime`, `crs` and the CQL2 `filter`, any of "
        "the collection's queryables can be given as `?name=value` (equality); other "
        "parameters are refused. `f=csv` or `f=gpkg` (or `format=csv|geojson|gpkg`) exports "
        "every matching feature at once, streamed (app.presentation.export)."
    ),
)
def list_items(
    collection: CollectionDep, params: OgcItemsDep, request: Request, conn: ReadConnectionDep
) -> Response:
    if params.export is not None:
        return export_items(request.app.state.engine, conn, collection, params.query, params.export)
    page = items_page(conn, collection, params.query, params.limit, params.crs)
    links = [_link(link_to(request), "self", "application/geo+json")]
    if page.has_more:
        next_url = link_to(request, limit=params.limit, cursor=page.last_key)
        links.append(_link(next_url, "next", "application/geo+json", "Next page"))
    links.append(
        _link(f"{base_url(request)}collections/{collection.id}", "collection", "application/json")
    )
    return GeoJSONResponse(
        feature_collection(
            f"[{','.join(page.features)}]",
            page.number_matched,
            len(page.features),
            links,
            timeStamp=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        ),
        headers=content_crs(params.crs),
    )


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    response_class=GeoJSONResponse,
    responses=FEATURE_RESPONSE,
    summary="One feature",
)
def get_item(
    collection: CollectionDep,
    feature_id: Annotated[str, Path(alias="featureId", max_length=64)],
    request: Request,
    conn: ReadConnectionDep,
    crs: OutputCrsDep,
    f: Annotated[str | None, Query(description="Format: json or geojson")] = None,
) -> GeoJSONResponse:
    if f not in (None, "json", "geojson"):
        raise InvalidParameter("f must be json or geojson")
    try:
        key = parse_key(collection, feature_id)
    except InvalidParameter:
        key = None
    found = item(conn, collection, key, crs) if key is not None else None
    if found is None:
        raise NotFound(f"no feature {feature_id!r} in {collection.id}")
    base = f"{base_url(request)}collections/{collection.id}"
    links = [
        _link(link_to(request), "self", "application/geo+json"),
        _link(base, "collection", "application/json"),
    ]
    return GeoJSONResponse(
        f'{found[:-1]}, "links": {json.dumps(links)}}}', headers=content_crs(crs)
    )
