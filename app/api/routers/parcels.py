from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from app.api.dependencies import (
    INSEE_PATTERN,
    PARCEL_ID_PATTERN,
    BBoxDep,
    PageDep,
    ReadConnectionDep,
)
from app.api.responses import (
    COLLECTION_RESPONSE,
    FEATURE_RESPONSE,
    GeoJSONResponse,
    feature_response,
    paging_links,
)
from app.presentation.geojson import feature_collection
from app.services.parcels import ParcelFilter, parcel_feature, parcel_page

router = APIRouter(prefix="/parcels", tags=["parcels"])


@router.get(
    "",
    response_class=GeoJSONResponse,
    responses=COLLECTION_RESPONSE,
    summary="Cadastre parcels as a paged GeoJSON FeatureCollection (WGS84)",
)
def list_parcels(
    request: Request,
    conn: ReadConnectionDep,
    bbox: BBoxDep,
    page: PageDep,
    commune: Annotated[
        str | None, Query(pattern=INSEE_PATTERN, description="Commune INSEE code")
    ] = None,
) -> GeoJSONResponse:
    features, matched, returned = parcel_page(
        conn, ParcelFilter(commune=commune, bbox=bbox), page.limit, page.offset
    )
    return GeoJSONResponse(
        feature_collection(
            features, matched, returned, paging_links(request, page.limit, page.offset, matched)
        )
    )


@router.get(
    "/{parcel_id}",
    response_class=GeoJSONResponse,
    responses=FEATURE_RESPONSE,
    summary="One parcel as a Feature",
)
def get_parcel(
    parcel_id: Annotated[str, Path(pattern=PARCEL_ID_PATTERN, examples=["91216000AB0037"])],
    conn: ReadConnectionDep,
) -> GeoJSONResponse:
    return feature_response(parcel_feature(conn, parcel_id), f"no parcel with id {parcel_id}")
