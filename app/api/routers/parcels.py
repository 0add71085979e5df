from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.api.dependencies import (
    INSEE_PATTERN,
    BBoxDep,
    PageDep,
    ReadConnectionDep,
    SettingsDep,
)
from app.api.responses import (
    COLLECTION_RESPONSE,
    GeoJSONResponse,
    add_feature_route,
    paging_links,
)
from app.presentation.geojson import RawJSON, feature_collection
from app.services.parcels import ParcelFilter, parcel_feature, parcel_page
from geo.territories import PARCEL_ID_PATTERN

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
    settings: SettingsDep,
    bbox: BBoxDep,
    page: PageDep,
    commune: Annotated[
        str | None, Query(pattern=INSEE_PATTERN, description="Commune INSEE code")
    ] = None,
) -> GeoJSONResponse:
    features, matched, returned = parcel_page(
        conn,
        ParcelFilter(commune=commune, bbox=bbox),
        page.limit,
        page.offset,
        settings.count_budget_ms,
    )
    links = paging_links(request, page.limit, page.offset, matched)
    return GeoJSONResponse(feature_collection(RawJSON(features), matched, returned, links))


add_feature_route(
    router, "/{parcel_id}", parcel_feature, PARCEL_ID_PATTERN, "91216000AB0037",
    summary="One parcel as a Feature",
    missing="no parcel with id {}",
)  # fmt: skip
