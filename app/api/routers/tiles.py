"""Vector tiles (MVT) and their TileJSON, for map front-ends."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from app.api.dependencies import CollectionDep, ConnectionDep, SettingsDep
from app.api.responses import base_url, etag_matches
from app.services.tiles import MAX_ZOOM, tile, tile_in_range, tilejson
from geo.errors import NotFound

router = APIRouter(prefix="/tiles", tags=["vector tiles"])

MVT = "application/vnd.mapbox-vector-tile"


@router.get(
    "/{collection_id}/tilejson.json",
    summary="TileJSON 3.0 of a collection's vector tiles",
)
def get_tilejson(collection: CollectionDep, request: Request, conn: ConnectionDep) -> dict:
    bounds = request.app.state.extents.get(conn, collection)
    return tilejson(collection, base_url(request), bounds)


@router.get(
    # Digits only in the path (Starlette's int convertor): "{z}" copied from a TileJSON
    # template, or a negative number, names no tile and is a 404, like a tile out of range.
    "/{collection_id}/{z:int}/{x:int}/{y:int}.mvt",
    response_class=Response,
    responses={200: {"content": {MVT: {}}}, 204: {"description": "No feature in this tile"}},
    summary="A Mapbox vector tile (Web Mercator XYZ), one layer named after the collection",
)
def get_tile(
    collection: CollectionDep,
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    request: Request,
    conn: ConnectionDep,
    settings: SettingsDep,
) -> Response:
    if not tile_in_range(z, x, y):
        raise NotFound(f"no tile {z}/{x}/{y}: x and y must be below 2^z = {2**z}")
    body = tile(conn, collection, z, x, y)
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {
        "Cache-Control": f"public, max-age={settings.tile_cache_seconds}",
        "ETag": etag,
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if not body:
        return Response(status_code=204, headers=headers)
    return Response(body, media_type=MVT, headers=headers)
