from typing import Annotated

from fastapi import APIRouter, Path

from app.api.dependencies import INSEE_PATTERN, SIREN_PATTERN, ConnectionDep
from app.api.responses import FEATURE_RESPONSE, GeoJSONResponse, feature_response
from app.services.territories import commune_feature, epci_feature

router = APIRouter(tags=["territories"])


@router.get(
    "/communes/{insee}",
    response_class=GeoJSONResponse,
    responses=FEATURE_RESPONSE,
    summary="A commune as a GeoJSON Feature (geometry null when its boundary is not loaded)",
)
def get_commune(
    insee: Annotated[str, Path(pattern=INSEE_PATTERN, examples=["91216"])], conn: ConnectionDep
) -> GeoJSONResponse:
    return feature_response(commune_feature(conn, insee), f"no commune with INSEE code {insee}")


@router.get(
    "/epci/{siren}",
    response_class=GeoJSONResponse,
    responses=FEATURE_RESPONSE,
    summary="An EPCI with its member communes, outlined by the union of their boundaries",
)
def get_epci(
    siren: Annotated[str, Path(pattern=SIREN_PATTERN, examples=["200056232"])],
    conn: ConnectionDep,
) -> GeoJSONResponse:
    return feature_response(epci_feature(conn, siren), f"no EPCI with SIREN {siren}")
