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

import heapq
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


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
