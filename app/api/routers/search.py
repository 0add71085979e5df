"""Ranked parcels and candidate sites for industrial reconversion."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any, Literal

import pydantic
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict

from app.api.dependencies import (
    EXPORT_CRS_DESCRIPTION,
    PageDep,
    ParcelSearchDep,
    ReadConnectionDep,
    SettingsDep,
    SiteSearchDep,
    export_crs,
)
from app.api.errors import InvalidParameter
from app.api.responses import paging_links
from app.presentation.export import (
    MAX_EXPORT_FEATURES,
    Export,
    Field,
    TableExport,
    describe,
    prop,
    with_exports,
)
from app.presentation.ranking import parcels_collection, sites_collection
from app.services.crs import Crs
from geo.db.count import page_reach
from geo.scoring.empty import why_empty
from geo.scoring.export import PARCEL_COLUMNS, parcel_table
from geo.scoring.model import Profile
from geo.scoring.profiles import custom_profile, get_profile
from geo.scoring.search import (
    count_parcels,
    matched_parcels,
    parcel_score,
    search_parcels,
)
from geo.scoring.sites import search_sites
from geo.territories import PARCEL_ID_PATTERN

router = APIRouter(tags=["ranking"])


def _fields(*specs: tuple[str, str, str]) -> list[Field]:
    return [Field(name, kind, doc, prop(name)) for name, kind, doc in specs]


_IMPACT = ("envelope_impact_ha", "float", "NAF hectares consumed if built")
_REMEDIATION = (
    "remediation_cost_eur",
    "float",
    "remediation estimate, euros (empty: unknown, a parcel's pollution is unknown)",
)
_MODEL = (("profile", "str", "scoring profile"), ("model_version", "str", "model version"))
# Computed by PostgreSQL for every export format (geo.scoring.export); the JSON search's
# pages carry each parcel's whole explanation.
PARCEL_FIELDS = _fields(*PARCEL_COLUMNS)
SITE_FIELDS = _fields(
    ("rank", "int", "rank of the site, best first"),
    ("area_ha", "float", "area of the site in hectares"),
    ("score", "float", "area-weighted score of its parcels"),
    ("parcel_count", "int", "number of parcels"),
    ("parcels", "str", "parcel ids, ';'-separated"),
    _IMPACT,
    _REMEDIATION,
    ("remediation_cost_known_eur", "float", "remediation of the parcels whose cost is known"),
    ("remediation_cost_complete", "bool", "every parcel's remediation cost is known"),
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
WEIGHTS_MAX_CHARS = 1000
WEIGHTS_DOC = 'Custom weights as JSON, e.g. {"zoning": 2}: replace the profile\'s'
WeightsQuery = Annotated[str | None, Query(max_length=WEIGHTS_MAX_CHARS, description=WEIGHTS_DOC)]


def _profile(profile: str | None, weights: str | None) -> Profile:
    """The named profile, or its criteria weighted as the request says."""
    base = get_profile(profile)
    if weights is None:
        return base
    try:
        parsed = json.loads(weights)
    except json.JSONDecodeError as exc:
        raise InvalidParameter(f"weights is not valid JSON: {exc.msg}") from None
    except RecursionError:  # nesting deeper than the parser's stack (max_length bounds it too)
        raise InvalidParameter("weights is nested too deeply") from None
    if not isinstance(parsed, dict):
        raise InvalidParameter('weights must be a JSON object, e.g. {"zoning": 2}')
    return custom_profile(base, parsed)


class RankedAnswer(BaseModel):
    """How a ranked search is answered, asked the same way by both searches: the profile's
    custom weights, and the JSON answer or an export of every match (its format, its CRS).
    Read after the search's own parameters, profile first."""

    model_config = ConfigDict(extra="ignore")

    weights: str | None = pydantic.Field(
        None, max_length=WEIGHTS_MAX_CHARS, description=WEIGHTS_DOC
    )
    format: ExportFormat = pydantic.Field("json", description=PARCEL_FORMAT_DOC)
    crs: str | None = pydantic.Field(None, max_length=200, description=EXPORT_CRS_DESCRIPTION)

    def profile(self, name: str | None) -> Profile:
        return _profile(name, self.weights)

    def export_crs(self) -> Crs | None:
        """The export's CRS; None for the JSON answer, which takes no crs."""
        if self.format == "json":
            if self.crs is not None:
                raise InvalidParameter("crs is the CRS of an export: give format too")
            return None
        return export_crs(self.format, self.crs)


class SiteAnswer(RankedAnswer):
    format: ExportFormat = pydantic.Field("json", description=SITE_FORMAT_DOC)


def parcel_answer(answer: Annotated[RankedAnswer, Query()]) -> RankedAnswer:
    return answer


def site_answer(answer: Annotated[SiteAnswer, Query()]) -> RankedAnswer:
    return answer


@router.get(
    "/parcels/search",
    summary="Parcels ranked for industry, with each score explained",
    responses=with_exports({}),
)
def search_ranked_parcels(
    request: Request,
    conn: ReadConnectionDep,
    settings: SettingsDep,
    search: ParcelSearchDep,
    page: PageDep,
    answer: Annotated[RankedAnswer, Depends(parcel_answer)],
    sort: Literal["-score", "score", "-area", "area"] = "-score",
) -> Any:
    chosen = answer.profile(search.asked.profile)
    filters = search.filters
    output = answer.export_crs()
    if output is not None:
        fmt = answer.format
        return request.app.state.exports.respond(
            request, fmt, partial(_parcels_export, chosen, filters, sort, fmt, output)
        )
    matched = matched_parcels(
        conn,
        chosen,
        filters,
        reach=page_reach(page.offset, page.limit),
        budget_ms=settings.count_budget_ms,
    )
    parcels = search_parcels(conn, chosen, filters, sort=sort, limit=page.limit, offset=page.offset)
    links = paging_links(request, page.limit, page.offset, matched)
    why = why_empty(conn, chosen, filters) if not parcels and page.offset == 0 else None
    return parcels_collection(parcels, chosen, matched, links, why)


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
    return parcel_score(conn, parcel_id, _profile(profile, weights))


@router.get(
    "/sites/search",
    summary="Candidate sites: contiguous eligible parcels reaching a size",
    responses=with_exports({}),
)
def search_candidate_sites(
    request: Request,
    conn: ReadConnectionDep,
    settings: SettingsDep,
    search: SiteSearchDep,
    answer: Annotated[RankedAnswer, Depends(site_answer)],
) -> Any:
    chosen = answer.profile(search.asked.profile)
    output = answer.export_crs()

    def run(conn) -> dict[str, Any]:
        sites = search_sites(
            conn,
            chosen,
            search.filters,
            min_area_ha=search.asked.min_area,
            gap_m=search.asked.gap,
            limit=search.asked.limit,
            budget_s=settings.site_search_seconds,
            crs=output,
        )
        # an export is the sites found; an empty answer in JSON says why
        why = why_empty(conn, chosen, search.filters) if not sites and output is None else None
        return sites_collection(sites, chosen, why)

    if output is not None:
        written_in = output  # (named again: the lambda below sees its narrowed type)
        return request.app.state.exports.respond(
            request,
            answer.format,
            lambda own: Export(
                "sites",
                [run(own)["features"]],
                SITE_FIELDS,
                members={"profile": {"id": chosen.id, "name": chosen.name}},
                geometry_type="MultiPolygon",
                crs=written_in,
            ),
        )
    return run(conn)


def _parcels_export(chosen, filters, sort, fmt, crs, conn) -> Export | TableExport:
    """The whole search (not one page), on a connection of the export pool."""
    matched = count_parcels(conn, chosen, filters, up_to=MAX_EXPORT_FEATURES)
    if not matched.exact:
        raise InvalidParameter(
            f"the search matches {matched} parcels: an export holds at most "
            f"{MAX_EXPORT_FEATURES}; narrow it (territory, min_score, min_area)"
        )
    table = parcel_table(conn, chosen, filters, sort=sort, crs=crs)
    members = {
        "profile": {"id": chosen.id, "name": chosen.name, "weights": chosen.weights},
        **matched.members(),
    }
    return TableExport("parcels", table, PARCEL_FIELDS, "MultiPolygon", crs, members)
