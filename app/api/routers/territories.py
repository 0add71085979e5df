from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.api.dependencies import INSEE_PATTERN, SIREN_PATTERN, Digits, ReadConnectionDep
from app.api.errors import InvalidParameter
from app.api.responses import add_feature_route
from app.services.places import MAX_CHARS, MAX_SUGGESTIONS, MIN_CHARS, search_places
from app.services.territories import commune_feature, epci_feature
from geo.errors import Invalid

router = APIRouter(tags=["territories"])


add_feature_route(
    router, "/communes/{insee}", commune_feature, INSEE_PATTERN, "91216",
    summary="A commune as a GeoJSON Feature (geometry null when its boundary is not loaded)",
    missing="no commune with INSEE code {}",
)  # fmt: skip
add_feature_route(
    router, "/epci/{siren}", epci_feature, SIREN_PATTERN, "200056232",
    summary="An EPCI with its member communes, outlined by the union of their boundaries",
    missing="no EPCI with SIREN {}",
)  # fmt: skip


@router.get(
    "/places",
    summary="Find a commune, EPCI, département, région or Territoire d'industrie by name or code",
    description=(
        "Accent-, case- and punctuation-insensitive: `paray` finds Paray-Vieille-Poste. "
        "Exact names first, then names and words starting with `q`; each place with its "
        "WGS84 bounding box (null when its boundary is not loaded)."
    ),
)
def find_places(
    conn: ReadConnectionDep,
    q: Annotated[str, Query(min_length=MIN_CHARS, max_length=MAX_CHARS, examples=["paray"])],
    limit: Annotated[int, Query(ge=1, le=MAX_SUGGESTIONS), Digits] = 10,
) -> list[dict[str, Any]]:
    try:
        return search_places(conn, q, limit)
    except Invalid as exc:  # a query the schema allows but that names nothing: 400
        raise InvalidParameter(str(exc)) from None
