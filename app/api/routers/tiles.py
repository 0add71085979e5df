"""Vector tiles (MVT): at /tiles/{collection}/{z}/{x}/{y}.mvt with their TileJSON, for map
front-ends, and the same tiles as OGC API - Tiles (WebMercatorQuad tile matrix set,
/collections/{id}/tiles metadata, /collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x})."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from app.api.dependencies import CollectionDep, ReadConnectionDep, SettingsDep
from app.api.responses import MVT, base_url, encode, send_encoded
from app.services.collections import Collection
from app.services.tiles import (
    MAX_ZOOM,
    WEB_MERCATOR_QUAD,
    cached_tile,
    tile_in_range,
    tile_matrix_set,
    tilejson,
    tileset,
)
from app.settings import Settings
from geo.errors import NotFound

router = APIRouter(prefix="/tiles", tags=["vector tiles"])
ogc_router = APIRouter(tags=["OGC API - Tiles"])

# Tiles are compressed by their route (the GZip middleware leaves them alone), at level 1:
# a tile's varints gain 6 % from level 5 over level 1 at twice the CPU (the densest 10 M
# z14 tile: 112,905 against 120,632 bytes, 9.1 against 4.9 ms, bench/README.md). JSON
# gains more from level 5 (20-40 % smaller) and keeps the middleware's.
TILE_GZIP_LEVEL = 1


# Both tile paths (Foncier's XYZ and the OGC tile matrix one) answer the same bytes.
_TILE_ANSWERS: dict[str, Any] = {
    "response_class": Response,
    "responses": {200: {"content": {MVT: {}}}, 204: {"description": "No feature in this tile"}},
}


@router.get(
    "/{collectionId}/tilejson.json",
    summary="TileJSON 3.0 of a collection's vector tiles",
)
def get_tilejson(collection: CollectionDep, request: Request, conn: ReadConnectionDep) -> dict:
    bounds = request.app.state.extents.get(conn, collection)
    return tilejson(collection, base_url(request), bounds)


@router.get(
    # Digits only in the path (Starlette's int convertor): "{z}" copied from a TileJSON
    # template, or a negative number, names no tile and is a 404, like a tile out of range.
    "/{collectionId}/{z:int}/{x:int}/{y:int}.mvt",
    **_TILE_ANSWERS,
    summary="A Mapbox vector tile (Web Mercator XYZ), one layer named after the collection",
)
def get_tile(
    collection: CollectionDep,
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    request: Request,
    conn: ReadConnectionDep,
    settings: SettingsDep,
) -> Response:
    return _tile_response(collection, z, x, y, request, conn, settings)


def _tile_response(
    collection: Collection, z: int, x: int, y: int, request: Request, conn, settings: Settings
) -> Response:
    if not tile_in_range(z, x, y):
        raise NotFound(f"no tile {z}/{x}/{y}: x and y must be below 2^z = {2**z}")
    encoded = cached_tile(
        conn,
        request.app.state.tile_cache,
        collection,
        z,
        x,
        y,
        lambda body: encode(body, TILE_GZIP_LEVEL),
    )
    headers = {"Cache-Control": f"public, max-age={settings.tile_cache_seconds}"}
    return send_encoded(request, encoded, MVT, headers)


def _tms_path(tile_matrix_set_id: str) -> str:
    if tile_matrix_set_id != WEB_MERCATOR_QUAD:
        raise NotFound(f"no tile matrix set {tile_matrix_set_id!r}: {WEB_MERCATOR_QUAD} only")
    return tile_matrix_set_id


TmsId = Annotated[str, Path(alias="tileMatrixSetId", max_length=64, examples=[WEB_MERCATOR_QUAD])]


@ogc_router.get("/tileMatrixSets", summary="The tile matrix sets of the tiles")
def list_tile_matrix_sets(request: Request) -> dict:
    base = base_url(request)
    return {
        "tileMatrixSets": [
            {
                "id": WEB_MERCATOR_QUAD,
                "title": "Google Maps Compatible for the World",
                "uri": tile_matrix_set()["uri"],
                "links": [
                    {
                        "href": f"{base}tileMatrixSets/{WEB_MERCATOR_QUAD}",
                        "rel": "self",
                        "type": "application/json",
                    }
                ],
            }
        ]
    }


@ogc_router.get(
    "/tileMatrixSets/{tileMatrixSetId}", summary="A tile matrix set (OGC 2D TMS 2.0 JSON)"
)
def get_tile_matrix_set(tile_matrix_set_id: TmsId) -> dict:
    _tms_path(tile_matrix_set_id)
    return tile_matrix_set()


@ogc_router.get("/collections/{collectionId}/tiles", summary="A collection's vector tilesets")
def list_collection_tilesets(collection: CollectionDep, request: Request) -> dict:
    described = tileset(collection, base_url(request))
    keep = ("title", "dataType", "crs", "tileMatrixSetURI", "links")
    return {
        "links": [
            {
                "href": f"{base_url(request)}collections/{collection.id}/tiles",
                "rel": "self",
                "type": "application/json",
            }
        ],
        "tilesets": [{k: described[k] for k in keep}],
    }


@ogc_router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}",
    summary="A collection's vector tileset (OGC API - Tiles tileset metadata)",
)
def get_collection_tileset(
    collection: CollectionDep, tile_matrix_set_id: TmsId, request: Request
) -> dict:
    _tms_path(tile_matrix_set_id)
    return tileset(collection, base_url(request))


@ogc_router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}"
    "/{tileMatrix:int}/{tileRow:int}/{tileCol:int}",
    **_TILE_ANSWERS,
    summary="A vector tile (MVT): tile matrix = zoom, row = y, col = x",
)
def get_collection_tile(
    collection: CollectionDep,
    tile_matrix_set_id: TmsId,
    tile_matrix: Annotated[int, Path(alias="tileMatrix", ge=0, le=MAX_ZOOM)],
    tile_row: Annotated[int, Path(alias="tileRow", ge=0)],
    tile_col: Annotated[int, Path(alias="tileCol", ge=0)],
    request: Request,
    conn: ReadConnectionDep,
    settings: SettingsDep,
) -> Response:
    _tms_path(tile_matrix_set_id)
    return _tile_response(collection, tile_matrix, tile_col, tile_row, request, conn, settings)
