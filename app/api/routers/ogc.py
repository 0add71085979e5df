"""OGC API - Features, Part 1 (Core, GeoJSON, OpenAPI 3.0), over the collections of
app.services.features. The landing page's HTML face is the map (app.api.routers.home)."""

from __future__ import annotations

import datetime
import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from app.api.dependencies import BBoxDep, CollectionDep, ConnectionDep, PageSizeDep
from app.api.errors import InvalidParameter
from app.api.responses import (
    COLLECTION_RESPONSE,
    FEATURE_RESPONSE,
    GeoJSONResponse,
    base_url,
    link_to,
)
from app.presentation.geojson import feature_collection
from app.services.features import COLLECTIONS, Collection, ItemsQuery, item, items_page
from geo.errors import NotFound

router = APIRouter(tags=["OGC API - Features"])

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
# Parameters of /items besides the collection's queryables.
ITEMS_PARAMETERS = {"limit", "bbox", "cursor", "f"}


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
        "crs": [CRS84],
        "links": [
            _link(base, "self", "application/json"),
            _link(f"{base}/items", "items", "application/geo+json", "Features"),
            _link(
                f"{base}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
                "Properties a request may filter on",
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
def list_collections(request: Request, conn: ConnectionDep) -> dict[str, Any]:
    return {
        "links": [_link(f"{base_url(request)}collections", "self", "application/json")],
        "collections": [_describe(request, conn, c) for c in COLLECTIONS.values()],
    }


@router.get("/collections/{collection_id}", summary="One feature collection")
def get_collection(collection: CollectionDep, request: Request, conn: ConnectionDep) -> dict:
    return _describe(request, conn, collection)


@router.get(
    "/collections/{collection_id}/queryables",
    summary="Properties of a collection usable as filters (?name=value)",
)
def get_queryables(collection: CollectionDep, request: Request) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url(request)}collections/{collection.id}/queryables",
        "type": "object",
        "title": collection.title,
        "properties": {name: {"type": "string"} for name in collection.queryables},
    }


@router.get(
    "/collections/{collection_id}/items",
    response_class=GeoJSONResponse,
    responses=COLLECTION_RESPONSE,
    summary="Features of a collection, in id order, paged by the `next` link",
    description=(
        "Besides `bbox`, `limit` and `cursor`, any of the collection's queryables can be "
        "given as `?name=value` (equality); other parameters are refused."
    ),
)
def list_items(
    collection: CollectionDep,
    request: Request,
    conn: ConnectionDep,
    bbox: BBoxDep,
    limit: PageSizeDep,
    cursor: Annotated[
        str | None,
        Query(max_length=64, description="Where the page starts: from the previous `next` link"),
    ] = None,
) -> GeoJSONResponse:
    properties = {k: v for k, v in request.query_params.items() if k not in ITEMS_PARAMETERS}
    unknown = sorted(set(properties) - set(collection.queryables))
    if unknown:
        raise InvalidParameter(
            f"unknown parameter(s) {', '.join(unknown)}; {collection.id} can be filtered on "
            f"{', '.join(collection.queryables) or 'nothing'} (see its queryables)"
        )
    if request.query_params.get("f", "json") not in ("json", "geojson"):
        raise InvalidParameter("f must be json: features are served as GeoJSON only")
    after = _parse_key(collection, cursor) if cursor is not None else None
    page = items_page(
        conn, collection, ItemsQuery(bbox=bbox, properties=properties, after=after), limit
    )
    links = [_link(link_to(request), "self", "application/geo+json")]
    if page.has_more:
        next_url = link_to(request, limit=limit, cursor=page.last_key)
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
        )
    )


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    response_class=GeoJSONResponse,
    responses=FEATURE_RESPONSE,
    summary="One feature",
)
def get_item(
    collection: CollectionDep,
    feature_id: Annotated[str, Path(max_length=64)],
    request: Request,
    conn: ConnectionDep,
) -> GeoJSONResponse:
    try:
        key = _parse_key(collection, feature_id)
    except InvalidParameter:
        key = None
    found = item(conn, collection, key) if key is not None else None
    if found is None:
        raise NotFound(f"no feature {feature_id!r} in {collection.id}")
    base = f"{base_url(request)}collections/{collection.id}"
    links = [
        _link(link_to(request), "self", "application/geo+json"),
        _link(base, "collection", "application/json"),
    ]
    return GeoJSONResponse(f'{found[:-1]}, "links": {json.dumps(links)}}}')


def _parse_key(collection: Collection, value: str) -> str | int:
    if not collection.key_is_int:
        return value
    # The canonical form only: int() would also take "01", " 1", "+1", "1_0" or "１", and
    # one feature must have one address.
    key = int(value) if re.fullmatch(r"[1-9][0-9]{0,9}", value) else None
    if key is None or not 0 < key < 2**31:
        raise InvalidParameter(f"{collection.id} ids are positive integers, got {value!r}")
    return key
