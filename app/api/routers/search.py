"""Ranked parcels and candidate sites for industrial reconversion."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request

from app.api.dependencies import (
    DEPARTEMENT_PATTERN,
    INSEE_PATTERN,
    PARCEL_ID_PATTERN,
    SIREN_PATTERN,
    BBoxDep,
    ConnectionDep,
    PageDep,
    SettingsDep,
)
from app.api.errors import InvalidParameter
from app.api.responses import paging_links
from app.presentation.ranking import parcels_collection, sites_collection
from geo.land.zoning import CLASSES as ZONING_CLASSES
from geo.scoring.profiles import get_profile, validate
from geo.scoring.search import (
    MAX_GAP_M,
    MAX_SITE_AREA_HA,
    Filters,
    parcel_score,
    search_parcels,
    search_sites,
)

router = APIRouter(tags=["ranking"])

ProfileQuery = Annotated[
    str | None,
    Query(
        description="Scoring profile: small-industry (default), large-industrial-site, logistics"
    ),
]
# Its JSON shape is described in the OpenAPI document by app.api.openapi.
WeightsQuery = Annotated[
    str | None,
    Query(
        max_length=1000,
        description='Custom weights as JSON, e.g. {"zoning": 2}: replace the profile\'s',
    ),
]
# Literal[tuple] is Literal of its items: the domain's list, documented as an enum.
Zoning = Literal[ZONING_CLASSES]  # type: ignore[valid-type]


def _profile(profile: str | None, weights: str | None):
    base = get_profile(profile)
    if weights is None:
        return base, False
    try:
        parsed = json.loads(weights)
    except json.JSONDecodeError as exc:
        raise InvalidParameter(f"weights is not valid JSON: {exc.msg}") from None
    except RecursionError:  # nesting deeper than the parser's stack (max_length bounds it too)
        raise InvalidParameter("weights is nested too deeply") from None
    if not isinstance(parsed, dict):
        raise InvalidParameter('weights must be a JSON object, e.g. {"zoning": 2}')
    custom = validate(
        "custom", f"custom weights on {base.id}", parsed, base.size_min_ha, base.size_max_ha
    )
    return custom, True


def _filters(
    commune: str | None,
    epci: str | None,
    territoire_industrie: str | None,
    departement: str | None,
    bbox,
    min_area: float | None = None,
    max_area: float | None = None,
    zoning: str | None = None,
    on_friche: bool | None = None,
    min_score: float | None = None,
    include_excluded: bool = False,
) -> Filters:
    if min_area is not None and max_area is not None and min_area > max_area:
        raise InvalidParameter("min_area must not exceed max_area")
    return Filters(
        commune=commune,
        epci=epci,
        territoire_industrie=territoire_industrie,
        departement=departement,
        bbox=bbox,
        min_area_ha=min_area,
        max_area_ha=max_area,
        zoning=zoning,
        on_friche=on_friche,
        min_score=min_score,
        include_excluded=include_excluded,
    )


Commune = Annotated[str | None, Query(pattern=INSEE_PATTERN)]
Epci = Annotated[str | None, Query(pattern=SIREN_PATTERN)]
Departement = Annotated[str | None, Query(pattern=DEPARTEMENT_PATTERN)]
Ti = Annotated[str | None, Query(min_length=1, max_length=20)]


@router.get("/parcels/search", summary="Parcels ranked for industry, with each score explained")
def search_ranked_parcels(
    request: Request,
    conn: ConnectionDep,
    bbox: BBoxDep,
    page: PageDep,
    commune: Commune = None,
    epci: Epci = None,
    territoire_industrie: Ti = None,
    departement: Departement = None,
    min_area: Annotated[float | None, Query(ge=0, description="hectares")] = None,
    max_area: Annotated[float | None, Query(ge=0, description="hectares")] = None,
    zoning: Zoning | None = None,
    on_friche: bool | None = None,
    min_score: Annotated[float | None, Query(ge=0, le=100)] = None,
    include_excluded: bool = False,
    profile: ProfileQuery = None,
    weights: WeightsQuery = None,
    sort: Literal["-score", "score", "-area", "area"] = "-score",
) -> dict[str, Any]:
    chosen, custom = _profile(profile, weights)
    filters = _filters(
        commune,
        epci,
        territoire_industrie,
        departement,
        bbox,
        min_area,
        max_area,
        zoning,
        on_friche,
        min_score,
        include_excluded,
    )
    parcels, matched = search_parcels(
        conn, chosen, filters, sort=sort, limit=page.limit, offset=page.offset, custom=custom
    )
    links = paging_links(request, page.limit, page.offset, matched)
    return parcels_collection(parcels, chosen, matched, links)


@router.get(
    "/parcels/{parcel_id}/score",
    summary="A parcel's score: every criterion, exclusions, reliability",
)
def get_parcel_score(
    parcel_id: Annotated[str, Path(pattern=PARCEL_ID_PATTERN)],
    conn: ConnectionDep,
    profile: ProfileQuery = None,
    weights: WeightsQuery = None,
) -> dict[str, Any]:
    chosen, _ = _profile(profile, weights)
    return parcel_score(conn, parcel_id, chosen)


@router.get("/sites/search", summary="Candidate sites: contiguous eligible parcels reaching a size")
def search_candidate_sites(
    conn: ConnectionDep,
    bbox: BBoxDep,
    settings: SettingsDep,
    min_area: Annotated[
        float, Query(gt=0, le=MAX_SITE_AREA_HA, description="hectares the site must reach")
    ],
    commune: Commune = None,
    epci: Epci = None,
    territoire_industrie: Ti = None,
    departement: Departement = None,
    gap: Annotated[
        float, Query(ge=0, le=MAX_GAP_M, description="metres between parcels of a site")
    ] = 0,
    min_score: Annotated[float | None, Query(ge=0, le=100)] = None,
    profile: ProfileQuery = None,
    weights: WeightsQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    if not any((commune, epci, territoire_industrie, departement, bbox)):
        raise InvalidParameter(
            "give a territory (commune, epci, territoire_industrie, departement or bbox)"
        )
    chosen, custom = _profile(profile, weights)
    filters = _filters(commune, epci, territoire_industrie, departement, bbox, min_score=min_score)
    sites = search_sites(
        conn,
        chosen,
        filters,
        min_area_ha=min_area,
        gap_m=gap,
        limit=limit,
        custom=custom,
        budget_s=settings.site_search_seconds,
    )
    return sites_collection(sites, chosen)
