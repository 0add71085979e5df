"""Ranked parcels and candidate sites for industrial reconversion."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request

from app.api.dependencies import (
    DEPARTEMENT_PATTERN,
    INSEE_PATTERN,
    PARCEL_ID_PATTERN,
    SIREN_PATTERN,
    BBoxDep,
    Digits,
    ExportCrsQuery,
    PageDep,
    ReadConnectionDep,
    SettingsDep,
    export_crs,
)
from app.api.errors import InvalidParameter
from app.api.responses import paging_links
from app.presentation.export import (
    EXPORT_PAGE,
    MAX_EXPORT_FEATURES,
    Export,
    Field,
    TableExport,
    describe,
    prop,
    with_exports,
)
from app.presentation.ranking import parcels_collection, sites_collection
from geo.db.count import page_reach
from geo.land.buildings import STATES as LAND_USE_STATES
from geo.land.owners import GROUPS as OWNER_GROUPS
from geo.land.zoning import CLASSES as ZONING_CLASSES
from geo.scoring.export import PARCEL_COLUMNS, parcel_table
from geo.scoring.profiles import get_profile, validate
from geo.scoring.search import (
    MAX_GAP_M,
    MAX_SITE_AREA_HA,
    Filters,
    count_parcels,
    matched_parcels,
    parcel_score,
    ranked_parcel_pages,
    search_parcels,
    search_sites,
)

router = APIRouter(tags=["ranking"])


def _fields(*specs: tuple[str, str, str]) -> list[Field]:
    return [Field(name, kind, doc, prop(name)) for name, kind, doc in specs]


_IMPACT = ("envelope_impact_ha", "float", "NAF hectares consumed if built")
_REMEDIATION = ("remediation_cost_eur", "float", "remediation estimate, euros")
_MODEL = (("profile", "str", "scoring profile"), ("model_version", "str", "model version"))
# Computed by PostgreSQL for the CSV and GeoPackage (geo.scoring.export); the GeoJSON
# export carries each parcel's whole explanation.
PARCEL_FIELDS = _fields(*PARCEL_COLUMNS)
SITE_FIELDS = _fields(
    ("rank", "int", "rank of the site, best first"),
    ("area_ha", "float", "area of the site in hectares"),
    ("score", "float", "area-weighted score of its parcels"),
    ("parcel_count", "int", "number of parcels"),
    ("parcels", "str", "parcel ids, ';'-separated"),
    _IMPACT,
    _REMEDIATION,
    *_MODEL,
)
_FORMAT_DOC = (
    "json (default): this page; csv, csv-fr, geojson or gpkg: an attachment streamed with "
    "every match (not one page; at most {max} features), in `crs` (GeoJSON: CRS84, "
    "GeoPackage and CSV: Lambert-93 by default). csv-fr is the CSV a spreadsheet set to "
    "French opens: `;` between cells, decimal comma (both CSVs UTF-8 with a BOM). CSV "
    "columns: `id`; {columns}; `x`, `y` (float): a point on the {what}'s surface, in `crs`"
)
PARCEL_FORMAT_DOC = _FORMAT_DOC.format(
    max=MAX_EXPORT_FEATURES, columns=describe(PARCEL_FIELDS), what="parcel"
)
SITE_FORMAT_DOC = _FORMAT_DOC.format(max=200, columns=describe(SITE_FIELDS), what="site")
ExportFormat = Literal["json", "csv", "csv-fr", "geojson", "gpkg"]

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
        "custom",
        f"custom weights on {base.id}",
        parsed,
        base.size_min_ha,
        base.size_max_ha,
        base.underused_built_share,
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
    exclude_zoning: str | None = None,
    max_built_share: float | None = None,
    land_use: str | None = None,
    owner: str | None = None,
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
        exclude_zoning=exclude_zoning,
        on_friche=on_friche,
        min_score=min_score,
        include_excluded=include_excluded,
        max_built_share=max_built_share,
        land_use=_choices("land_use", land_use, LAND_USE_STATES),
        owner=_choices("owner", owner, OWNER_GROUPS),
    )


def _choices(name: str, value: str | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of values among ``allowed`` (400 otherwise)."""
    if value is None:
        return ()
    items = tuple(dict.fromkeys(v.strip() for v in value.split(",")))
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise InvalidParameter(
            f"{name} must be a comma-separated list of {', '.join(allowed)}; "
            f"got {', '.join(repr(v) for v in bad) or 'nothing'}"
        )
    return items


LandUseQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Land-use states, comma-separated: vacant, underused, built "
        "(parcels whose commune has no building layer never match)",
        examples=["vacant,underused"],
    ),
]
OwnerQuery = Annotated[
    str | None,
    Query(
        max_length=400,
        description="Owner groups, comma-separated: "
        + ", ".join(OWNER_GROUPS)
        + " (parcels whose commune has no owner file never match)",
        examples=["commune,epci,etablissement_public"],
    ),
]


Commune = Annotated[str | None, Query(pattern=INSEE_PATTERN)]
Epci = Annotated[str | None, Query(pattern=SIREN_PATTERN)]
Departement = Annotated[str | None, Query(pattern=DEPARTEMENT_PATTERN)]
Ti = Annotated[str | None, Query(min_length=1, max_length=20)]


@router.get(
    "/parcels/search",
    summary="Parcels ranked for industry, with each score explained",
    responses=with_exports({}),
)
def search_ranked_parcels(
    request: Request,
    conn: ReadConnectionDep,
    settings: SettingsDep,
    bbox: BBoxDep,
    page: PageDep,
    commune: Commune = None,
    epci: Epci = None,
    territoire_industrie: Ti = None,
    departement: Departement = None,
    min_area: Annotated[float | None, Query(ge=0, description="hectares")] = None,
    max_area: Annotated[float | None, Query(ge=0, description="hectares")] = None,
    zoning: Zoning | None = None,
    exclude_zoning: Annotated[
        Zoning | None,
        Query(description="drop this zoning class (parcels of unknown zoning are kept)"),
    ] = None,
    on_friche: bool | None = None,
    min_score: Annotated[float | None, Query(ge=0, le=100)] = None,
    include_excluded: bool = False,
    max_built_share: Annotated[
        float | None,
        Query(ge=0, le=1, description="largest built share (building footprint / parcel area)"),
    ] = None,
    land_use: LandUseQuery = None,
    owner: OwnerQuery = None,
    profile: ProfileQuery = None,
    weights: WeightsQuery = None,
    sort: Literal["-score", "score", "-area", "area"] = "-score",
    format: Annotated[ExportFormat, Query(description=PARCEL_FORMAT_DOC)] = "json",
    crs: ExportCrsQuery = None,
) -> Any:
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
        exclude_zoning,
        max_built_share,
        land_use,
        owner,
    )
    if format != "json":
        output = export_crs(format, crs)
        return request.app.state.exports.respond(
            request,
            format,
            partial(_parcels_export, chosen, filters, sort, custom, format, output),
        )
    if crs is not None:
        raise InvalidParameter("crs is the CRS of an export: give format too")
    matched = matched_parcels(
        conn,
        chosen,
        filters,
        custom=custom,
        reach=page_reach(page.offset, page.limit),
        budget_ms=settings.count_budget_ms,
    )
    parcels = search_parcels(
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
    conn: ReadConnectionDep,
    profile: ProfileQuery = None,
    weights: WeightsQuery = None,
) -> dict[str, Any]:
    chosen, _ = _profile(profile, weights)
    return parcel_score(conn, parcel_id, chosen)


@router.get(
    "/sites/search",
    summary="Candidate sites: contiguous eligible parcels reaching a size",
    responses=with_exports({}),
)
def search_candidate_sites(
    request: Request,
    conn: ReadConnectionDep,
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
    limit: Annotated[int, Query(ge=1, le=200), Digits] = 20,
    format: Annotated[ExportFormat, Query(description=SITE_FORMAT_DOC)] = "json",
    crs: ExportCrsQuery = None,
) -> Any:
    if not any((commune, epci, territoire_industrie, departement, bbox)):
        raise InvalidParameter(
            "give a territory (commune, epci, territoire_industrie, departement or bbox)"
        )
    chosen, custom = _profile(profile, weights)
    filters = _filters(commune, epci, territoire_industrie, departement, bbox, min_score=min_score)

    if format == "json" and crs is not None:
        raise InvalidParameter("crs is the CRS of an export: give format too")
    output = export_crs(format, crs) if format != "json" else None

    def search(conn) -> dict[str, Any]:
        sites = search_sites(
            conn,
            chosen,
            filters,
            min_area_ha=min_area,
            gap_m=gap,
            limit=limit,
            custom=custom,
            budget_s=settings.site_search_seconds,
            crs=output,
        )
        return sites_collection(sites, chosen)

    if format != "json":
        return request.app.state.exports.respond(
            request,
            format,
            lambda own: Export(
                "sites",
                [search(own)["features"]],
                SITE_FIELDS,
                members={"profile": {"id": chosen.id, "name": chosen.name}},
                geometry_type="MultiPolygon",
                crs=output,
            ),
        )
    return search(conn)


def _parcels_export(chosen, filters, sort, custom, fmt, crs, conn) -> Export:
    """The whole search (not one page), on a connection of the export pool."""
    matched = count_parcels(conn, chosen, filters, custom=custom, up_to=MAX_EXPORT_FEATURES)
    if not matched.exact:
        raise InvalidParameter(
            f"the search matches {matched} parcels: an export holds at most "
            f"{MAX_EXPORT_FEATURES}; narrow it (territory, min_score, min_area)"
        )
    if fmt != "geojson":
        table = parcel_table(conn, chosen, filters, sort=sort, custom=custom, crs=crs)
        return TableExport("parcels", table, PARCEL_FIELDS, "MultiPolygon", crs)
    pages = ranked_parcel_pages(
        conn,
        chosen,
        filters,
        sort=sort,
        size=EXPORT_PAGE,
        custom=custom,
        crs=crs,
    )
    return Export(
        "parcels",
        (parcels_collection(page, chosen, matched, [])["features"] for page in pages),
        PARCEL_FIELDS,
        members={
            "profile": {"id": chosen.id, "name": chosen.name, "weights": chosen.weights},
            **matched.members(),
        },
        geometry_type="MultiPolygon",
        crs=crs,
    )
