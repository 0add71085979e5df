"""OGC API - Features over the collections of app.services.collections: Part 1 (Core, GeoJSON,
OpenAPI 3.0), Part 2 (CRS by reference) and Part 3 (queryables, CQL2 filters). The
landing page's HTML face is the map (app.api.routers.home); the tiles are in
app.api.routers.tiles (OGC API - Tiles)."""

from __future__ import annotations

import datetime
import json
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api.dependencies import (
    CollectionDep,
    OgcItemsDep,
    OgcItemsRequest,
    OutputCrsDep,
    ReadConnectionDep,
    parse_key,
)
from app.api.errors import InvalidParameter
from app.api.responses import (
    COLLECTION_RESPONSE,
    FEATURE_RESPONSE,
    SCHEMA_JSON,
    GeoJSONResponse,
    SchemaJSONResponse,
    base_url,
    json_with_links,
    link_header,
    link_to,
    wants_html,
)
from app.presentation import html
from app.presentation.export import (
    EXPORT_PAGE,
    GEOMETRY_FORMATS,
    MAX_EXPORT_FEATURES,
    Export,
    with_exports,
)
from app.presentation.geojson import feature_collection, feature_with_links
from app.presentation.schemas import collection_schema, geojson_feature_schema, queryables_schema
from app.services.collections import COLLECTIONS, Collection
from app.services.crs import CRS84, CRSS, STORAGE, Crs
from app.services.features import Geometry, count_items, item, item_pages, items_page
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
SCHEMA_REL = "http://www.opengis.net/def/rel/ogc/1.0/schema"
# TileJSON has no registered relation type: an extension one (RFC 8288 §2.1.2) naming its spec
TILEJSON_REL = "https://github.com/mapbox/tilejson-spec"
# The OGC documents also answer in HTML, for people browsing the API (app.presentation.html):
# with f=html, or to a browser's Accept; JSON stays the answer to */* and to JSON clients.
HTML_FORMAT = Annotated[
    str | None, Query(description="Format: json, or html (a page to read in a browser)")
]
WITH_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/html": {}}}
}


def with_html(responses: dict[Any, Any]) -> dict[Any, Any]:
    """``responses`` whose 200 also documents the HTML page."""
    ok = responses.get(200, {"description": "Successful Response"})
    return {**responses, 200: {**ok, "content": {**ok.get("content", {}), "text/html": {}}}}


def _html_link(href: str) -> dict[str, str]:
    return _link(html.with_format(href, "html"), "alternate", "text/html", "Page HTML")


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


@router.get("/conformance", summary="Conformance classes implemented", responses=WITH_HTML)
def get_conformance(request: Request, f: HTML_FORMAT = None) -> Any:
    document = {"conformsTo": CONFORMANCE}
    if wants_html(request, f):
        return HTMLResponse(html.conformance_page(base_url(request), document))
    return document


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
            _html_link(base),
            _link(f"{base}/items", "items", "application/geo+json", "Features"),
            # GDAL's OAPIF driver types its fields from the first schema+json describedby
            # link: a GeoJSON feature's schema. Debian's GDAL 3.6 looks for the spelling
            # "describedBy" only (relation types are case-insensitive, RFC 8288 §2.1.1), so
            # that one is spelt so; the Part 5 schema follows under its usual spelling.
            _link(
                f"{base}/schema/geojson",
                "describedBy",
                SCHEMA_JSON,
                "JSON Schema of a feature as the items encode it (GeoJSON)",
            ),
            _link(f"{base}/schema", "describedby", SCHEMA_JSON, "The features' schema"),
            _link(f"{base}/schema", SCHEMA_REL, SCHEMA_JSON, "The features' schema (Part 5)"),
            _link(f"{base}/queryables", QUERYABLES_REL, SCHEMA_JSON, "Properties a filter names"),
            _link(
                f"{base}/tiles",
                "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                "application/json",
                "Vector tilesets (OGC API - Tiles)",
            ),
            _link(
                f"{base_url(request)}tiles/{collection.id}/tilejson.json",
                TILEJSON_REL,
                "application/json",
                "Vector tiles (TileJSON)",
            ),
        ],
    }
    bbox = request.app.state.extents.get(conn, collection)
    if bbox:
        description["extent"] = {"spatial": {"bbox": [bbox], "crs": CRS84}}
    return description


@router.get("/collections", summary="The feature collections", responses=WITH_HTML)
def list_collections(request: Request, conn: ReadConnectionDep, f: HTML_FORMAT = None) -> Any:
    href = f"{base_url(request)}collections"
    document = {
        "links": [_link(href, "self", "application/json"), _html_link(href)],
        "collections": [_describe(request, conn, c) for c in COLLECTIONS.values()],
    }
    if wants_html(request, f):
        return HTMLResponse(html.collections_page(base_url(request), document))
    return json_with_links(document)


@router.get("/collections/{collectionId}", summary="One feature collection", responses=WITH_HTML)
def get_collection(
    collection: CollectionDep, request: Request, conn: ReadConnectionDep, f: HTML_FORMAT = None
) -> Any:
    document = _describe(request, conn, collection)
    if wants_html(request, f):
        return HTMLResponse(html.collection_page(base_url(request), document))
    return json_with_links(document)


def _url(request: Request, collection: Collection, path: str) -> str:
    return f"{base_url(request)}collections/{collection.id}/{path}"


_SCHEMA_ANSWER: dict[str, Any] = {
    "response_class": SchemaJSONResponse,
    "responses": {200: {"content": {SCHEMA_JSON: {}}}},
}


@router.get(
    "/collections/{collectionId}/schema",
    **_SCHEMA_ANSWER,
    summary="The schema of a collection's features (OGC API - Features, Part 5)",
)
def get_schema(collection: CollectionDep, request: Request) -> SchemaJSONResponse:
    return SchemaJSONResponse(collection_schema(collection, _url(request, collection, "schema")))


@router.get(
    "/collections/{collectionId}/schema/geojson",
    **_SCHEMA_ANSWER,
    summary="The JSON Schema of a collection's features as GeoJSON (the items' encoding)",
)
def get_geojson_schema(collection: CollectionDep, request: Request) -> SchemaJSONResponse:
    return SchemaJSONResponse(
        geojson_feature_schema(collection, _url(request, collection, "schema/geojson"))
    )


@router.get(
    "/collections/{collectionId}/queryables",
    **_SCHEMA_ANSWER,
    summary="Properties of a collection usable in filters (?name=value, or CQL2 `filter`)",
)
def get_queryables(collection: CollectionDep, request: Request) -> SchemaJSONResponse:
    url = _url(request, collection, "queryables")
    return SchemaJSONResponse(queryables_schema(collection, url))


@router.get(
    "/collections/{collectionId}/items",
    response_class=GeoJSONResponse,
    responses=with_exports(with_html(COLLECTION_RESPONSE), "application/geo+json"),
    summary="Features of a collection, in id order, paged by the `next` link",
    description=(
        "Besides `bbox`, `limit`, `cursor`, `datetime`, `crs` and the CQL2 `filter`, any of "
        "the collection's queryables can be given as `?name=value` (equality); other "
        "parameters are refused. `f=csv` or `f=gpkg` (or `format=csv|geojson|gpkg`) exports "
        "every matching feature at once, streamed (app.presentation.export); `f=html` (or a "
        "browser's Accept) a page to read."
    ),
)
def list_items(
    collection: CollectionDep, params: OgcItemsDep, request: Request, conn: ReadConnectionDep
) -> Response:
    if params.export is not None:
        return request.app.state.exports.respond(
            request, params.export, partial(_items_export, collection, params)
        )
    page = items_page(
        conn,
        collection,
        params.query,
        params.limit,
        params.crs,
        request.app.state.settings.count_budget_ms,
    )
    links = [
        _link(link_to(request), "self", "application/geo+json"),
        _html_link(link_to(request)),
    ]
    if page.has_more:
        next_url = link_to(request, limit=params.limit, cursor=page.last_key)
        links.append(_link(next_url, "next", "application/geo+json", "Next page"))
    links.append(
        _link(f"{base_url(request)}collections/{collection.id}", "collection", "application/json")
    )
    body = feature_collection(
        page.features,
        page.number_matched,
        len(page.features),
        links,
        timeStamp=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    if wants_html(request, request.query_params.get("f")):
        description = _describe(request, conn, collection)
        page_html = html.items_page(
            base_url(request), description, json.loads(body), links[0]["href"]
        )
        return HTMLResponse(page_html)
    return GeoJSONResponse(body, headers={**content_crs(params.crs), **link_header(links)})


def _items_export(collection: Collection, params: OgcItemsRequest, conn) -> Export:
    """Every feature of the collection matching the request, in id order, its columns
    typed from the first feature (on a connection of the export pool)."""
    matched = count_items(conn, collection, params.query, MAX_EXPORT_FEATURES)
    if not matched.exact:
        raise InvalidParameter(
            f"{collection.id} has {matched} matching features: an export holds "
            f"at most {MAX_EXPORT_FEATURES}; filter it (bbox, queryables)"
        )
    export = params.export or ""
    geometry: Geometry = "outline" if export in GEOMETRY_FORMATS else "none"
    if geometry == "outline" and export.startswith("csv"):
        geometry = "point"  # a CSV's x and y: a point on each surface, computed by PostGIS
    pages = item_pages(conn, collection, params.query, EXPORT_PAGE, params.crs, geometry)
    return Export(
        collection.id,
        ([json.loads(f) for f in page] for page in pages),
        None,
        matched.members(),
        crs=params.crs,
    )


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    response_class=GeoJSONResponse,
    responses=with_html(FEATURE_RESPONSE),
    summary="One feature",
)
def get_item(
    collection: CollectionDep,
    feature_id: Annotated[str, Path(alias="featureId", max_length=64)],
    request: Request,
    conn: ReadConnectionDep,
    crs: OutputCrsDep,
    f: Annotated[str | None, Query(description="Format: json, geojson or html")] = None,
) -> Response:
    if f not in (None, "json", "geojson", "html"):
        raise InvalidParameter("f must be json, geojson or html")
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
        _html_link(link_to(request)),
        _link(base, "collection", "application/json"),
    ]
    body = feature_with_links(found, links)
    if wants_html(request, f):
        description = _describe(request, conn, collection)
        return HTMLResponse(
            html.item_page(base_url(request), description, json.loads(body), links[0]["href"])
        )
    return GeoJSONResponse(body, headers={**content_crs(crs), **link_header(links)})
