"""Ranked parcel search, read from the precomputed scores (candidate sites: geo.scoring.sites)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo.crs import departement_of
from geo.db.bbox import bbox_params, bbox_sql
from geo.db.count import COUNT_BUDGET_MS, Matched, count_matches, count_within
from geo.db.geojson import OutputCrs, output_geojson_sql
from geo.errors import Invalid, NotFound
from geo.land.buildings import land_use_sql
from geo.scoring.lineage import lineage_for
from geo.scoring.model import (
    EXCLUDED_SQL,
    Criterion,
    Profile,
    explain,
    land_use_criterion,
    score_sql,
)
from geo.scoring.refresh_sql import MIN_SHARE

_FEATURE_COLUMNS = (
    "area_ha, compactness, zoning_class, on_friche, friche_site_id, in_economic_zone, "
    "activity_zone_distance_m, pollution, slope_mean_pct, flood_high_share, "
    "envelope_impact_ha, remediation_cost_eur, motorway_distance_m, rail_siding, "
    "risk_interdiction_share, risk_prescription_share, risk_regulation, risk_zones, "
    "prescription_exclude_share, prescription_penalise_share, prescription_effect, "
    "prescriptions, "
    # what stands on the land (buildings, owners)
    "built_m2, built_share, building_count, light_only, building_use, "
    "owner_group, owner_siren, owner_name"
)
_FEATURE_SELECT = ", ".join("f." + c.strip() for c in _FEATURE_COLUMNS.split(","))
# The search's own columns, before criteria and geometry are joined.
_PAGE_COLUMNS = (
    "s.parcel_id, s.departement_code, s.commune_insee, s.score, s.reliability, s.area_ha"
)
SORTS = {
    "-score": "s.score DESC NULLS LAST, s.parcel_id",
    "score": "s.score ASC NULLS LAST, s.parcel_id",
    "-area": "s.area_ha DESC, s.parcel_id",
    "area": "s.area_ha ASC, s.parcel_id",
}


@dataclass(frozen=True)
class Filters:
    commune: str | None = None
    epci: str | None = None
    territoire_industrie: str | None = None
    departement: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    min_area_ha: float | None = None
    max_area_ha: float | None = None
    zoning: str | None = None
    # drop parcels in this zoning class; those whose zoning is unknown (no PLU loaded
    # there) are kept, their breakdown saying the zoning is not known
    exclude_zoning: str | None = None
    on_friche: bool | None = None
    min_score: float | None = None
    include_excluded: bool = False
    # what stands on the land: a parcel whose layer is not loaded never matches
    max_built_share: float | None = None
    land_use: tuple[str, ...] = ()
    owner: tuple[str, ...] = ()
    # drop parcels over a risk plan's zones of these kinds (RISK_KINDS); a parcel outside
    # every loaded plan's perimeter is kept, its breakdown saying the risk is not known
    exclude_risk: tuple[str, ...] = ()
    # keep NAF land, or already artificialised land (friche or artificialised), or both
    # (LAND_COVERS)
    land_cover: tuple[str, ...] = ()

    @property
    def needs_features(self) -> bool:
        return bool(
            self.zoning
            or self.exclude_zoning
            or self.on_friche is not None
            or self.max_built_share is not None
            or self.land_use
            or self.owner
            or self.exclude_risk
            or self.land_cover
        )

    def territory_sql(self, t: str, insee: str, geom: str) -> tuple[list[str], dict[str, Any]]:
        """The conditions of the search's territory on the relation aliased ``t`` (its
        ``departement_code``, ``epci_siren`` and commune code column ``insee``) and the bbox
        on ``geom``: the search's own on the scored parcels, why_empty's on the communes."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.commune:
            # the département too: it prunes the partitions of parcel_score
            clauses.append(f"{t}.departement_code = :dep AND {t}.{insee} = :commune")
            params.update(commune=self.commune, dep=departement_of(self.commune))
        if self.departement:
            clauses.append(f"{t}.departement_code = :departement")
            params["departement"] = self.departement
        if self.epci:
            clauses.append(f"{t}.epci_siren = :epci")
            params["epci"] = self.epci
        if self.territoire_industrie:
            clauses.append(
                f"{t}.{insee} IN (SELECT insee FROM territoire_industrie_commune "
                "WHERE territoire_industrie_id = :ti)"
            )
            params["ti"] = self.territoire_industrie
        if self.bbox:
            clauses.append(bbox_sql(geom))
            params.update(bbox_params(self.bbox))
        return clauses, params

    def sql(self, profile: Profile | None = None) -> tuple[str, dict[str, Any]]:
        clauses, params = self.territory_sql("s", "commune_insee", "p.geom")
        for name, condition in _VALUE_FILTERS.items():
            if (value := getattr(self, name)) not in (None, ""):
                clauses.append(condition)
                params[name] = value
        if self.land_use:
            threshold = (profile or Profile("", "", {})).underused_built_share
            clauses.append(f"{land_use_sql('f', threshold)} = ANY(:land_use)")
            params["land_use"] = list(self.land_use)
        if self.owner:
            clauses.append("f.owner_group = ANY(:owner)")
            params["owner"] = list(self.owner)
        clauses += [RISK_KINDS[kind] for kind in self.exclude_risk]
        if self.land_cover:
            clauses.append("(" + " OR ".join(LAND_COVERS[c] for c in self.land_cover) + ")")
        if self.min_score is not None:
            clauses.append("s.score >= :min_score")
            params["min_score"] = self.min_score
        if not self.include_excluded:
            clauses.append("NOT s.excluded")
        return " AND ".join(clauses) or "TRUE", params


# A risk plan's zone kinds a search may drop (exclude_risk), each as the condition a kept
# parcel meets: less than MIN_SHARE of it in a zone of that kind, the share under which the
# refresh reads a zone as digitisation noise (docs/methode.md). Unknown (NULL: no plan
# loaded over it) is kept.
RISK_KINDS = {
    "interdiction": f"coalesce(f.risk_interdiction_share, 0) < {MIN_SHARE}",
    "prescription": f"coalesce(f.risk_prescription_share, 0) < {MIN_SHARE}",
}
# A parcel is NAF land when more than half of it would count as NAF consumption if built
# (envelope_impact_ha, the ledger's figure: the parcel less its parts on friches and on
# loaded artificialised land), already artificialised otherwise (docs/methode.md). Where no
# artificialised layer is loaded, land not on a friche counts as NAF, as in the ledger.
NAF_MAJORITY = 0.5
LAND_COVERS = {
    "naf": f"f.envelope_impact_ha > {NAF_MAJORITY} * f.area_ha",
    "artificialised": f"f.envelope_impact_ha <= {NAF_MAJORITY} * f.area_ha",
}


def land_cover_of(envelope_impact_ha: float, area_ha: float) -> str:
    """``naf`` or ``artificialised``, as LAND_COVERS reads it."""
    return "naf" if envelope_impact_ha > NAF_MAJORITY * area_ha else "artificialised"


# The filters that compare one column with the request's value (bound as :<filter name>).
_VALUE_FILTERS = {
    "min_area_ha": "s.area_ha >= :min_area_ha",
    "max_area_ha": "s.area_ha <= :max_area_ha",
    "zoning": "f.zoning_class = :zoning",
    # unknown zoning (no PLU loaded there) is kept: its breakdown says it is not known
    "exclude_zoning": "f.zoning_class IS DISTINCT FROM :exclude_zoning",
    "on_friche": "coalesce(f.on_friche, FALSE) = :on_friche",
    "max_built_share": "f.built_share <= :max_built_share",
}


@dataclass(frozen=True)
class RankedParcel:
    """A parcel as ranked: its stored criteria with its geometry (GeoJSON WGS84 text), and
    its score explained (geo.scoring.model.explain)."""

    row: dict[str, Any]
    explanation: dict[str, Any]


def _source(profile: Profile) -> tuple[str, dict[str, Any]]:
    """The scored rows ``s``: precomputed for named profiles; for custom weights, computed
    from the stored criteria (arithmetic only, no geometry)."""
    if not profile.custom:
        return "(SELECT * FROM parcel_score WHERE profile = :profile) s", {"profile": profile.id}
    lateral, score, reliability = score_sql(profile)
    return (
        f"(SELECT f.parcel_id, f.departement_code, f.commune_insee, c.epci_siren, f.area_ha, "
        # float8 as the stored scores: numeric arithmetic would reach Python as Decimal
        f"({score})::float8 AS score, ({reliability})::float8 AS reliability, "
        f"{EXCLUDED_SQL} AS excluded "
        f"FROM parcel_features f LEFT JOIN commune c ON c.insee = f.commune_insee {lateral}) s",
        {},
    )


def _joins(filters: Filters) -> str:
    """Only the tables the filters need: counting 100,000 rows must not read their geometry."""
    joins = ""
    if filters.needs_features:
        joins += " JOIN parcel_features f ON f.parcel_id = s.parcel_id"
    if filters.bbox:
        joins += " JOIN parcel p ON p.departement_code = s.departement_code AND p.id = s.parcel_id"
    return joins


def count_parcels(conn: Connection, profile: Profile, filters: Filters, *, up_to: int) -> Matched:
    """How many parcels the search matches: exact up to ``up_to``, "more than" beyond
    (geo.db.count)."""
    base, params = search_from(profile, filters)
    return count_matches(conn, base, params, up_to)


def matched_parcels(
    conn: Connection,
    profile: Profile,
    filters: Filters,
    *,
    reach: int,
    budget_ms: int = COUNT_BUDGET_MS,
) -> Matched:
    """How many parcels a page of the search reports: exact when counted within
    ``budget_ms``, else (not published) whether there is more than ``reach`` (geo.db.count)."""
    base, params = search_from(profile, filters)
    return count_within(conn, base, params, budget_ms, reach=reach)


def search_parcels(
    conn: Connection,
    profile: Profile,
    filters: Filters,
    *,
    sort: str = "-score",
    limit: int = 100,
    offset: int = 0,
) -> list[RankedParcel]:
    """One page of the ranked parcels, with their criteria, geometry and explained score."""
    base, params = search_from(profile, filters)
    order = _order(sort)
    rows = (
        conn.execute(
            text(_ranked_sql(_page_sql(base, order, filters, profile.custom), order)),
            {**params, "limit": limit, "offset": offset},
        )
        .mappings()
        .all()
    )
    return _explained(conn, rows, profile)


def search_rows_sql(
    profile: Profile, filters: Filters, sort: str
) -> tuple[str, str, dict[str, Any]]:
    """The search's rows (its ``s`` columns) as one SELECT, their ORDER BY, and the
    parameters: what an export reads (geo.scoring.export)."""
    base, params = search_from(profile, filters)
    return f"SELECT {_PAGE_COLUMNS} {base}", _order(sort), params


def _order(sort: str) -> str:
    if sort not in SORTS:
        raise Invalid(f"sort must be one of {', '.join(SORTS)}")
    return SORTS[sort]


# A result names its commune (a table of codes alone reads as a list of numbers).
_COMMUNE_NAME = "(SELECT c.name FROM commune c WHERE c.insee = s.commune_insee) AS commune_name"


def _ranked_sql(
    rows_sql: str, order: str, geometry: bool = True, crs: OutputCrs | None = None
) -> str:
    """The rows of ``rows_sql`` (the search's ``s`` columns) in ``order``, with their
    criteria and geometry (GeoJSON in ``crs``, WGS84 by default, or NULL)."""
    if not geometry:
        return f"""WITH page AS ({rows_sql})
            SELECT s.parcel_id, s.commune_insee, s.departement_code, s.score, s.reliability,
                   {_COMMUNE_NAME}, NULL AS geometry, {_FEATURE_SELECT}
            FROM page s JOIN parcel_features f ON f.parcel_id = s.parcel_id
            ORDER BY {order}"""
    return f"""WITH page AS ({rows_sql})
        SELECT s.parcel_id, s.commune_insee, s.departement_code, s.score, s.reliability,
               {_COMMUNE_NAME}, {output_geojson_sql("p.geom", crs)} AS geometry,
               {_FEATURE_SELECT}
        FROM page s
        JOIN parcel_features f ON f.parcel_id = s.parcel_id
        JOIN parcel p ON p.departement_code = s.departement_code AND p.id = s.parcel_id
        ORDER BY {order}"""


def _explained(conn: Connection, rows: Sequence[Any], profile: Profile) -> list[RankedParcel]:
    """The rows with their score explained and each criterion's source."""
    # every criterion's source, for the départements of the rows: one query
    lineage = lineage_for(conn, [row["commune_insee"] for row in rows])
    land_use = land_use_criterion(profile.underused_built_share)
    ranked = []
    for mapping in rows:
        row = dict(mapping)
        explained = lineage.annotate(explain(row, profile), row["commune_insee"])
        ranked.append(RankedParcel(row, {**_land(row, land_use), **explained}))
    return ranked


def search_from(profile: Profile, filters: Filters) -> tuple[str, dict[str, Any]]:
    """The search's FROM … WHERE … (its rows ``s``) and its parameters."""
    source, params = _source(profile)
    where, filter_params = filters.sql(profile)
    return f"FROM {source}{_joins(filters)} WHERE {where}", {**params, **filter_params}


def _page_sql(base: str, order: str, filters: Filters, custom: bool) -> str:
    """The page's rows in order (an index scan in score order where one serves), before
    their criteria and geometry are read.

    With no territory, the best scores of France would be a sort of every scored parcel
    (0.4-0.6 s at 1 M parcels, a minute at 90 M). Each département's best ``offset + limit``
    are read instead, through its score index, and merged: the page is among them, and the
    cost grows with the number of départements, not of parcels."""
    columns = _PAGE_COLUMNS
    national = not (
        custom
        or filters.commune
        or filters.epci
        or filters.departement
        or filters.territoire_industrie
        or filters.bbox
    )
    if not national:
        return f"SELECT {columns} {base} ORDER BY {order} LIMIT :limit OFFSET :offset"
    # the départements holding scores: one probe of the score index each (a loose scan)
    return f"""WITH RECURSIVE scored(code) AS (
                   SELECT min(departement_code) FROM parcel_score WHERE profile = :profile
                   UNION ALL
                   SELECT (SELECT min(departement_code) FROM parcel_score
                           WHERE profile = :profile AND departement_code > scored.code)
                   FROM scored WHERE scored.code IS NOT NULL
               )
               SELECT s.* FROM scored d CROSS JOIN LATERAL (
                   SELECT {columns} {base} AND s.departement_code = d.code
                   ORDER BY {order} LIMIT :limit + :offset
               ) s
               ORDER BY {order} LIMIT :limit OFFSET :offset"""


def _land(row: Any, land_use: Criterion) -> dict[str, Any]:
    """What stands on the parcel: land use, buildings, owner; None where the
    layer is not loaded for its commune."""
    return {
        "land_use": land_use.value_of(row),
        "built_share": None if row["built_share"] is None else round(row["built_share"], 4),
        "built_m2": None if row["built_m2"] is None else round(row["built_m2"], 1),
        "building_count": row["building_count"],
        # NAF land or already artificialised land (LAND_COVERS)
        "land_cover": land_cover_of(row["envelope_impact_ha"], row["area_ha"]),
        "owner": None
        if row["owner_group"] is None
        else {"group": row["owner_group"], "siren": row["owner_siren"], "name": row["owner_name"]},
    }


def parcel_score(conn: Connection, parcel_id: str, profile: Profile) -> dict[str, Any]:
    row = (
        conn.execute(
            text(
                f"SELECT {_FEATURE_COLUMNS}, departement_code, commune_insee, computed_at "
                "FROM parcel_features WHERE parcel_id = :id"
            ),
            {"id": parcel_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"parcel {parcel_id} is unknown or not scored yet (foncier score refresh)")
    lineage = lineage_for(conn, [row["commune_insee"]])
    land_use = land_use_criterion(profile.underused_built_share)
    return {
        "parcel_id": parcel_id,
        "computed_at": row["computed_at"].isoformat(),
        **_land(row, land_use),
        **lineage.annotate(explain(dict(row), profile), row["commune_insee"]),
    }
