"""Ranked parcel search and candidate sites, read from the precomputed scores."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.errors import QueryCanceled
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, OperationalError

from geo.crs import departement_of
from geo.db.bbox import bbox_params, bbox_sql
from geo.db.count import COUNT_BUDGET_MS, Matched, count_matches, count_within
from geo.db.geojson import OutputCrs, output_geojson_sql
from geo.errors import Invalid, NotFound
from geo.land.buildings import land_use_sql
from geo.scoring.adjacency import SHARE_BOUNDARY_SQL, pairs_of
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
from geo.scoring.sites import Parcel, Site, WalkTooLong, components, grow_sites

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

    def sql(self, profile: Profile | None = None) -> tuple[str, dict[str, Any]]:
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.commune:
            clauses.append("s.departement_code = :dep AND s.commune_insee = :commune")
            params.update(commune=self.commune, dep=departement_of(self.commune))
        if self.departement:
            clauses.append("s.departement_code = :departement")
            params["departement"] = self.departement
        if self.epci:
            clauses.append("s.epci_siren = :epci")
            params["epci"] = self.epci
        if self.territoire_industrie:
            clauses.append(
                "s.commune_insee IN (SELECT insee FROM territoire_industrie_commune "
                "WHERE territoire_industrie_id = :ti)"
            )
            params["ti"] = self.territoire_industrie
        if self.bbox:
            clauses.append(bbox_sql("p.geom"))
            params.update(bbox_params(self.bbox))
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
    base, params = _base(profile, filters)
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
    base, params = _base(profile, filters)
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
    base, params = _base(profile, filters)
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
    base, params = _base(profile, filters)
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


def _base(profile: Profile, filters: Filters) -> tuple[str, dict[str, Any]]:
    """The search's FROM … WHERE … and its parameters."""
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


@dataclass(frozen=True)
class RankedSite:
    """A candidate site as found: its parcels, figures, and outline (GeoJSON WGS84 text)."""

    rank: int
    parcel_ids: list[str]
    area_ha: float
    score: float | None
    outline: str
    envelope_impact_ha: float
    # unknown (None) when any of its parcels' cost is unknown (pollution unknown); the
    # known parcels' sum is then a lower bound (docs/methode.md)
    remediation_cost_eur: float | None
    remediation_cost_known_eur: float | None
    remediation_cost_complete: bool


def search_sites(
    conn: Connection,
    profile: Profile,
    filters: Filters,
    *,
    min_area_ha: float,
    gap_m: float = 0.0,
    limit: int = 20,
    budget_s: float | None = None,
    crs: OutputCrs | None = None,
) -> list[RankedSite]:
    """Contiguous eligible parcels (touching, or within ``gap_m``) grown into candidate
    sites that reach ``min_area_ha`` (geo.scoring.sites), best first.

    ``budget_s`` bounds the time spent finding neighbours and walking (the queries get
    what is left of it as their statement_timeout): past it, Invalid. Outlines are
    GeoJSON in ``crs`` (RFC 7946's when None).
    """
    if not 0 < min_area_ha <= MAX_SITE_AREA_HA:
        raise Invalid(f"min_area_ha must be above 0 and at most {MAX_SITE_AREA_HA:g}")
    if not 0 <= gap_m <= MAX_GAP_M:
        raise Invalid(f"gap_m must be between 0 and {MAX_GAP_M:g} metres")
    deadline = None if budget_s is None else time.monotonic() + budget_s
    with _caller_timeout_kept(conn), _collector_paused():
        try:
            found = _walk(conn, profile, filters, min_area_ha, gap_m, limit, deadline)
        except WalkTooLong:
            raise Invalid(
                "the search did not settle its best sites within its budget (few parcels "
                "reach the requested size together, or the gap joins too many): add "
                "min_score, narrow the territory or lower the gap"
            ) from None
    return _ranked(conn, found, limit, crs)


@contextlib.contextmanager
def _caller_timeout_kept(conn: Connection) -> Iterator[None]:
    """The walk sets statement_timeout to what is left of its budget; the caller's comes
    back after it (impossible, and moot, in a transaction a cancel aborted)."""
    previous = conn.execute(text("SELECT current_setting('statement_timeout')")).scalar()
    try:
        yield
    finally:
        with contextlib.suppress(DBAPIError):
            conn.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": previous}
            )


def _ranked(
    conn: Connection, found: list[Site], limit: int, crs: OutputCrs | None = None
) -> list[RankedSite]:
    """The best ``limit`` sites (score, then area), with their outline and figures."""
    best = sorted(
        found, key=lambda site: (-(site.score if site.score is not None else -1), -site.area_ha)
    )[:limit]
    details = _site_details(conn, [[p.id for p in site.parcels] for site in best], crs)
    numbered = enumerate(zip(best, details, strict=True), start=1)
    return [
        RankedSite(
            rank=rank,
            parcel_ids=sorted(p.id for p in site.parcels),
            area_ha=site.area_ha,
            score=site.score,
            outline=outline,
            envelope_impact_ha=impact,
            remediation_cost_eur=remediation if complete else None,
            remediation_cost_known_eur=remediation,
            remediation_cost_complete=complete,
        )
        for rank, (site, (outline, impact, remediation, complete)) in numbered
    ]


def _walk(
    conn: Connection,
    profile: Profile,
    filters: Filters,
    min_area_ha: float,
    gap_m: float,
    limit: int,
    deadline: float | None,
) -> list[Site]:
    """The sites found (geo.scoring.sites.grow_sites) among the eligible parcels; WalkTooLong
    past ``deadline``, in a query or in the walk."""
    budget = _Budget(conn, deadline)
    parcels, communes = _eligible(conn, profile, filters, budget)
    # Every eligible parcel's neighbours at once: stored for touching parcels
    # (geo.scoring.adjacency), else tested here when there are few candidates.
    pairs = pairs_of(budget.query, communes) if gap_m == 0 else None
    if pairs is None and len(parcels) <= PREFETCH_NEIGHBOURS:
        pairs = _tested_pairs(parcels, gap_m, budget)
    if pairs is not None:
        return grow_sites(
            parcels,
            min_area_ha,
            limit=limit,
            deadline=deadline,
            # blocks too small for the request are passed over without a walk
            groups=components(parcels, _link(parcels, pairs)),
        )
    # Otherwise the walk asks for the parcels it reaches, one query a step.
    return grow_sites(
        parcels,
        min_area_ha,
        limit=limit,
        neighbours=_neighbour_lookup(gap_m, budget),
        max_lookups=MAX_LOOKUPS,
        deadline=deadline,
    )


@dataclass(frozen=True)
class _Budget:
    """What is left of a site search's time, given to each of its queries."""

    conn: Connection
    deadline: float | None

    def query(self, sql: str, params: dict[str, Any]) -> list[Any]:
        """The rows of a query run within what is left (statement_timeout local to the
        transaction); WalkTooLong when nothing is left or the query is cancelled."""
        if self.deadline is not None:
            left_ms = int((self.deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                raise WalkTooLong("out of time")
            self.conn.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(left_ms)}
            )
        try:
            return list(self.conn.execute(text(sql), params).all())
        except OperationalError as exc:
            raise _timed_out(exc) from None


def _eligible(
    conn: Connection, profile: Profile, filters: Filters, budget: _Budget
) -> tuple[dict[str, Parcel], set[tuple[str, str]]]:
    """The parcels a site may be built of. Only what the walk needs: this may be 100,000
    parcels; geometry and criteria are read for the sites kept (_site_details)."""
    source, params = _source(profile)
    where, filter_params = filters.sql(profile)
    rows = budget.query(
        f"SELECT s.parcel_id, s.score, s.area_ha, s.departement_code, s.commune_insee "
        f"FROM {source}{_joins(filters)} WHERE {where}",
        {**params, **filter_params},
    )
    if len(rows) > MAX_SITE_CANDIDATES:
        raise Invalid(
            f"{len(rows):,} eligible parcels: a site search assembles at most "
            f"{MAX_SITE_CANDIDATES:,}; narrow the territory or add min_score"
        )
    return {r[0]: Parcel(r[0], r[1], r[2]) for r in rows}, {(r[3], r[4]) for r in rows}


def _link(parcels: dict[str, Parcel], pairs: Sequence[Any]) -> list[tuple[str, str]]:
    """Each parcel's neighbours among ``parcels`` (their ``neighbours``), from pairs of
    ids; the pairs kept."""
    linked = []
    for a, b in pairs:
        first, second = parcels.get(a), parcels.get(b)
        if first is not None and second is not None:
            first.neighbours.add(b)
            second.neighbours.add(a)
            linked.append((a, b))
    return linked


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while the walk's objects are made: 40,000
    parcels with their sets of neighbours and 100,000 pairs started collection after
    collection, each scanning every object of the process; they hold no cycle."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _tested_pairs(parcels: dict[str, Parcel], gap_m: float, budget: _Budget) -> list[Any]:
    """Every pair of neighbours among the eligible parcels, tested in one query."""
    pairs = budget.query(f"{_PAIRS} LIMIT {MAX_PAIRS + 1}", {"ids": list(parcels), "gap": gap_m})
    if len(pairs) > MAX_PAIRS:
        raise WalkTooLong(f"more than {MAX_PAIRS} neighbour pairs")
    return pairs


def _neighbour_lookup(gap_m: float, budget: _Budget) -> Callable[[list[str]], dict[str, set[str]]]:
    """The neighbours of the parcels the walk reaches, one query a step."""

    def look_up(ids: list[str]) -> dict[str, set[str]]:
        rows = budget.query(_NEIGHBOURS, {"ids": ids, "gap": gap_m})
        return {parcel_id: set(near) for parcel_id, near in rows}

    return look_up


def _timed_out(exc: OperationalError) -> Exception:
    """A query cancelled by the budget's statement_timeout is the walk out of time."""
    if isinstance(exc.orig, QueryCanceled):
        return WalkTooLong("out of time")
    return exc


# The parcels next to each of :ids, through the parcels' spatial index: without a gap,
# those sharing a stretch of boundary (geo.scoring.adjacency's rule, the stored pairs'); with
# a gap, any parcel within it.
_NEIGHBOURS = f"""
SELECT p.id, ARRAY(
    SELECT q.id FROM parcel q
    WHERE q.departement_code = p.departement_code AND q.id <> p.id
      AND q.geom && ST_Expand(p.geom, :gap)
      AND CASE WHEN :gap > 0 THEN ST_DWithin(q.geom, p.geom, :gap)
               ELSE {SHARE_BOUNDARY_SQL} END)
FROM parcel p WHERE p.id = ANY(:ids)
"""
# The same, for a whole set at once: each pair once, from its smaller id (both parcels
# being in :ids, the pair is met from that side), half the geometry tests.
_PAIRS = f"""
SELECT p.id, q.id FROM parcel p
JOIN parcel q ON q.departement_code = p.departement_code AND q.id > p.id
             AND q.geom && ST_Expand(p.geom, :gap)
             AND CASE WHEN :gap > 0 THEN ST_DWithin(q.geom, p.geom, :gap)
                      ELSE {SHARE_BOUNDARY_SQL} END
WHERE p.id = ANY(:ids)
"""
# Up to this many eligible parcels, their neighbours come in one query (about 0.05 ms a
# parcel); beyond, the walk asks for the parcels it reaches, one query a step, and stops
# as soon as the best sites are certain.
PREFETCH_NEIGHBOURS = 10_000
MAX_LOOKUPS = 5_000  # about 2.5 s of walking
# Pairs of neighbours fetched at once: about 20 a parcel within 50 m in the demo cadastre;
# a wide gap over a dense commune joins far more, and their sets outgrow the budget.
MAX_PAIRS = 500_000
# Sites are contiguous land for one project: the largest industrial sites are a few
# hundred hectares, and 100 m of gap bridges a road or a railway, not a neighbourhood.
MAX_SITE_AREA_HA = 500.0
MAX_GAP_M = 100.0
# A site search walks the parcels one neighbourhood at a time; over more eligible parcels
# than this, a search that finds few sites would walk for minutes.
MAX_SITE_CANDIDATES = 150_000


def _site_details(
    conn: Connection, sites: list[list[str]], crs: OutputCrs | None = None
) -> list[tuple[str, float, float | None, bool]]:
    """Each site's outline (its parcels dissolved, GeoJSON in ``crs``, WGS84 by default),
    envelope impact, remediation estimate of the parcels whose cost is known (None: of
    none) and whether every parcel's is, in order."""
    if not sites:
        return []
    numbers = [n for n, ids in enumerate(sites) for _ in ids]
    ids = [i for site in sites for i in site]
    rows = conn.execute(
        text(
            f"""SELECT t.n, {output_geojson_sql("ST_Union(p.geom)", crs)},
                       sum(f.envelope_impact_ha), sum(f.remediation_cost_eur),
                       bool_and(f.remediation_cost_eur IS NOT NULL)
                FROM unnest(CAST(:numbers AS int[]), CAST(:ids AS text[])) AS t(n, id)
                JOIN parcel p ON p.id = t.id
                JOIN parcel_features f ON f.parcel_id = t.id
                GROUP BY t.n ORDER BY t.n"""
        ),
        {"numbers": numbers, "ids": ids},
    ).all()
    return [(geometry, impact, cost, complete) for _, geometry, impact, cost, complete in rows]
