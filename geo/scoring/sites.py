"""Candidate sites: eligible parcels grown, best first, into contiguous sites that reach a
requested size.

The eligible parcels' neighbours are those they touch (stored per commune,
geo.scoring.adjacency) or lie within ``gap`` metres of (tested by PostGIS through the
parcels' spatial index). Sites are then grown here, a
plain graph walk: from the best-scoring parcel not yet taken, add the best-scoring
neighbour of the site so far until its area reaches the request; take its parcels out,
start again from the next best parcel. A block of contiguous parcels much larger than the
request thus yields several sites of about the requested size instead of one huge one,
and a block too small for the request yields none; when every neighbour is known at
once, such blocks are passed over without a walk (their connected components).
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg.errors import QueryCanceled
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, OperationalError

from geo.db.geojson import OutputCrs, output_geojson_sql
from geo.errors import Invalid
from geo.scoring.adjacency import SHARE_BOUNDARY_SQL, pairs_of
from geo.scoring.model import Profile
from geo.scoring.search import Filters, search_from


@dataclass(slots=True)
class Parcel:
    id: str
    score: float | None
    area_ha: float
    neighbours: set[str] = field(default_factory=set)

    def rank(self) -> tuple[float, float, str]:
        """Heap order: best score first, then larger area, then id (deterministic)."""
        return (-(self.score if self.score is not None else -1.0), -self.area_ha, self.id)


@dataclass
class Site:
    parcels: list[Parcel]

    @property
    def area_ha(self) -> float:
        return sum(p.area_ha for p in self.parcels)

    @property
    def score(self) -> float | None:
        """Area-weighted mean score of its scored parcels."""
        scored = [p for p in self.parcels if p.score is not None]
        area = sum(p.area_ha for p in scored)
        return sum((p.score or 0.0) * p.area_ha for p in scored) / area if area else None


NeighbourLookup = Callable[[list[str]], dict[str, set[str]]]
# Sums of parcel areas in another order may differ by this much (far below a m²).
ROUNDING_HA = 1e-6


class WalkTooLong(Exception):
    """The walk asked for more neighbour lookups, or ran longer, than it was allowed."""


def grow_sites(
    parcels: dict[str, Parcel],
    min_area_ha: float,
    *,
    limit: int | None = None,
    neighbours: NeighbourLookup | None = None,
    max_lookups: int | None = None,
    deadline: float | None = None,
    groups: dict[str, int] | None = None,
) -> list[Site]:
    """Disjoint sites of at least ``min_area_ha``, each contiguous, best seeds first.

    ``neighbours`` returns the neighbours of a batch of parcels (default: each parcel's
    ``neighbours``); it is only asked about parcels the walk reaches. With ``limit``, the
    walk stops once ``limit`` sites score at least as well as the next seed: a site never
    scores above its seed (every parcel still free scores at most the seed's), so no later
    site could enter the best ``limit`` (between equal scores, the earlier seed wins).

    ``groups`` numbers the parcels so that no two neighbours have different numbers (the
    connected components, or coarser): a seed whose group holds less free area than
    ``min_area_ha`` starts no site and is skipped without a walk, which changes no site
    (its walk would have found nothing, and taken only parcels of that group).

    ``max_lookups`` and ``deadline`` (a time.monotonic() instant) bound the walk: past
    either, WalkTooLong.
    """
    known: dict[str, set[str]] = {}
    lookups = 0

    def fetch(ids: list[str]) -> None:
        nonlocal lookups
        missing = [i for i in ids if i not in known]
        if not missing:
            return
        lookups += 1
        if max_lookups is not None and lookups > max_lookups:
            raise WalkTooLong(f"more than {max_lookups} neighbour lookups")
        if neighbours is None:
            found = {i: parcels[i].neighbours for i in missing}
        else:
            # may answer for more parcels than asked (the neighbourhood): all kept
            found = neighbours(missing)
        for i, near in found.items():
            if i in parcels and i not in known:
                known[i] = {n for n in near if n in parcels}
        for i in missing:
            known.setdefault(i, set())

    free = set(parcels)
    # free area per group; a group is given up only below the size by more than the sums'
    # rounding (giving up less often is only slower)
    room: dict[int, float] = defaultdict(float)
    for parcel in parcels.values() if groups is not None else ():
        room[groups[parcel.id]] += parcel.area_ha  # type: ignore[index]
    short = min_area_ha - ROUNDING_HA
    best: list[float] = []  # min-heap of the best ``limit`` site scores so far
    sites: list[Site] = []
    for seed in sorted(parcels.values(), key=Parcel.rank):
        if seed.id not in free:
            continue
        if groups is not None and room[groups[seed.id]] < short:
            continue
        if deadline is not None and time.monotonic() > deadline:
            raise WalkTooLong("out of time")
        seed_score = -seed.rank()[0]
        if limit is not None and len(best) >= limit and seed_score <= best[0]:
            break
        taken, members, area = [seed], {seed.id}, seed.area_ha
        frontier: list[tuple[tuple[float, float, str], str]] = []
        added = seed.id
        while area < min_area_ha:
            if deadline is not None and time.monotonic() > deadline:
                raise WalkTooLong("out of time")
            fetch([added])
            for n in known[added]:
                if n in free and n not in members:
                    heapq.heappush(frontier, (parcels[n].rank(), n))
            while frontier and frontier[0][1] in members:
                heapq.heappop(frontier)
            if not frontier:
                break
            _, added = heapq.heappop(frontier)
            taken.append(parcels[added])
            members.add(added)
            area += parcels[added].area_ha
        free -= members
        if groups is not None:
            room[groups[seed.id]] -= area
        if area >= min_area_ha:
            site = Site(taken)
            sites.append(site)
            if limit is not None:
                score = site.score if site.score is not None else -1.0
                if len(best) < limit:
                    heapq.heappush(best, score)
                elif score > best[0]:
                    heapq.heapreplace(best, score)
        # otherwise everything reachable from this seed is too small: no site starts there
    return sites


def components(ids: Iterable[str], pairs: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Each parcel's connected component (a number), given the pairs of neighbours."""
    number = {i: n for n, i in enumerate(ids)}
    parent = list(range(len(number)))
    # union-find, its two finds written out (40,000 parcels, 100,000 pairs per search)
    for a, b in pairs:
        x = number[a]
        while parent[x] != x:
            parent[x] = x = parent[parent[x]]
        y = number[b]
        while parent[y] != y:
            parent[y] = y = parent[parent[y]]
        if x != y:
            parent[x] = y
    roots = []
    for x in range(len(parent)):
        while parent[x] != x:
            parent[x] = x = parent[parent[x]]
        roots.append(x)
    return {i: roots[n] for i, n in number.items()}


# -- the search: eligible parcels, their neighbours, the sites kept ------------------


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
    base, params = search_from(profile, filters)
    rows = budget.query(
        f"SELECT s.parcel_id, s.score, s.area_ha, s.departement_code, s.commune_insee {base}",
        params,
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
