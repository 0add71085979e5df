"""Candidate sites over large territories: the stored pairs of touching parcels, the
blocks too small for the request passed over, and the same sites as an unbounded walk."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from geo.ingest.cadastre import load_cadastre
from geo.scoring import sites
from geo.scoring.adjacency import pairs_of
from geo.scoring.profiles import get_profile
from geo.scoring.refresh import refresh_scores
from geo.scoring.search import Filters
from geo.scoring.sites import Parcel, components, grow_sites, search_sites
from tests.helpers import CADASTRE_91216, engine_for

COMMUNE = {("91", "91216")}


def _strips(lengths: list[int], score: float = 50.0) -> dict[str, Parcel]:
    """Rows of 1 ha parcels, one row per length, each row's parcels touching in a line;
    scores fall along the rows, the rows first."""
    parcels: dict[str, Parcel] = {}
    for row, length in enumerate(lengths):
        for x in range(length):
            i = f"{row}-{x}"
            parcels[i] = Parcel(i, score - row - x / 100, 1.0)
            if x:
                parcels[i].neighbours.add(f"{row}-{x - 1}")
                parcels[f"{row}-{x - 1}"].neighbours.add(i)
    return parcels


def test_blocks_too_small_are_passed_over_without_a_walk() -> None:
    # nine rows of 3 ha (the best seeds) and one of 10 ha: a 5 ha site is only in the last
    parcels = _strips([3] * 9 + [10])
    asked: list[list[str]] = []

    def neighbours(ids: list[str]) -> dict[str, set[str]]:
        asked.append(ids)
        return {i: parcels[i].neighbours for i in ids}

    sites = grow_sites(
        parcels, min_area_ha=5, limit=2, neighbours=neighbours, groups=_components(parcels)
    )
    assert [[p.id for p in s.parcels] for s in sites] == [
        [f"9-{x}" for x in range(5)],
        [f"9-{x}" for x in range(5, 10)],
    ]
    # only the parcels of the 10 ha row were walked
    assert {i for ids in asked for i in ids} <= {f"9-{x}" for x in range(10)}
    # the same sites as the walk that visits every row
    plain = grow_sites(_strips([3] * 9 + [10]), min_area_ha=5, limit=2)
    assert [[p.id for p in s.parcels] for s in plain] == [[p.id for p in s.parcels] for s in sites]


def test_a_block_shrunk_by_its_first_site_is_passed_over() -> None:
    # one 7 ha row: a 4 ha site, then 3 ha left, too small; a 4 ha row after it
    parcels = _strips([7, 4])
    asked: list[list[str]] = []

    def neighbours(ids: list[str]) -> dict[str, set[str]]:
        asked.append(ids)
        return {i: parcels[i].neighbours for i in ids}

    sites = grow_sites(parcels, min_area_ha=4, neighbours=neighbours, groups=_components(parcels))
    assert [[p.id for p in s.parcels] for s in sites] == [
        ["0-0", "0-1", "0-2", "0-3"],
        ["1-0", "1-1", "1-2", "1-3"],
    ]
    assert not {"0-4", "0-5", "0-6"} & {i for ids in asked for i in ids}


def _components(parcels: dict[str, Parcel]) -> dict[str, int]:
    return components(parcels, [(i, n) for i, p in parcels.items() for n in p.neighbours])


def test_components() -> None:
    groups = components("abcde", [("a", "b"), ("c", "b"), ("e", "e")])
    assert groups["a"] == groups["b"] == groups["c"]
    assert len({groups["a"], groups["d"], groups["e"]}) == 3


@pytest.fixture(scope="module")
def scored_url(scored_db_url: str) -> str:
    return scored_db_url


def test_stored_pairs_are_the_pairs_tested_on_the_fly(scored_url: str) -> None:
    engine = engine_for(scored_url)
    with engine.connect() as conn:
        ids = list(
            conn.execute(text("SELECT id FROM parcel WHERE commune_insee = '91216'")).scalars()
        )
        tested = {
            tuple(r) for r in conn.execute(text(sites._PAIRS), {"ids": ids, "gap": 0.0}).all()
        }
        stored = pairs_of(lambda sql, params: conn.execute(text(sql), params).all(), COMMUNE)
    engine.dispose()
    assert stored is not None and len(tested) > 7000
    assert {tuple(r) for r in stored} == tested


def _unbounded(conn, profile, filters: Filters, min_area_ha: float) -> list[list[str]]:
    """The sites of the plain walk: every parcel's neighbours tested on the fly, every
    seed walked (no limit, no blocks passed over), then the best 20."""
    budget = sites._Budget(conn, None)
    parcels, _ = sites._eligible(conn, profile, filters, budget)
    sites._link(parcels, sites._tested_pairs(parcels, 0.0, budget))
    found = grow_sites(parcels, min_area_ha)
    return [site.parcel_ids for site in sites._ranked(conn, found, 20)]


@pytest.mark.parametrize(
    ("profile_id", "min_area_ha", "min_score"),
    [
        ("small-industry", 5.0, None),
        ("small-industry", 2.0, None),
        ("large-industrial-site", 10.0, None),
        ("logistics", 1.0, 40.0),
        ("small-industry", 0.5, None),
    ],
)
def test_same_sites_as_the_unbounded_walk(
    scored_url: str, profile_id: str, min_area_ha: float, min_score: float | None
) -> None:
    profile = get_profile(profile_id)
    filters = Filters(commune="91216", min_score=min_score)
    engine = engine_for(scored_url)
    with engine.connect() as conn:
        found = search_sites(conn, profile, filters, min_area_ha=min_area_ha, budget_s=3.0)
        expected = _unbounded(conn, profile, filters, min_area_ha)
    engine.dispose()
    assert found, "the case finds sites"
    assert [site.parcel_ids for site in found] == expected


def test_stored_pairs_need_no_geometry_during_the_walk(
    scored_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over more candidates than are prefetched, the walk used to test the geometries of
    each parcel it reached; it now reads the stored pairs once."""
    monkeypatch.setattr(sites, "PREFETCH_NEIGHBOURS", 0)
    monkeypatch.setattr(sites, "MAX_LOOKUPS", 1)
    profile = get_profile("small-industry")
    engine = engine_for(scored_url)
    with engine.connect() as conn:
        found = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=5)
    engine.dispose()
    assert len(found) == 20


@pytest.mark.slow
def test_an_import_makes_its_communes_pairs_stale_until_the_refresh(
    fresh_engine: Engine,
) -> None:
    load_cadastre(fresh_engine, CADASTRE_91216)
    refresh_scores(fresh_engine, commune="91216")

    def stored() -> int | None:
        with fresh_engine.connect() as conn:
            pairs = pairs_of(lambda sql, params: conn.execute(text(sql), params).all(), COMMUNE)
        return None if pairs is None else len(pairs)

    before = stored()
    assert before is not None and before > 7000
    load_cadastre(fresh_engine, CADASTRE_91216)  # the same parcels, written again
    assert stored() is None
    # meanwhile the search tests the geometries itself: the same sites
    profile = get_profile("small-industry")
    with fresh_engine.connect() as conn:
        stale = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=5)
    refresh_scores(fresh_engine, commune="91216")
    assert stored() == before
    with fresh_engine.connect() as conn:
        current = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=5)
    assert [s.parcel_ids for s in stale] == [s.parcel_ids for s in current]
    # a plain re-score leaves current pairs alone
    with fresh_engine.connect() as conn:
        computed = conn.execute(text("SELECT computed_at FROM parcel_adjacency_commune")).all()
    refresh_scores(fresh_engine, commune="91216")
    with fresh_engine.connect() as conn:
        again = conn.execute(text("SELECT computed_at FROM parcel_adjacency_commune")).all()
    assert computed == again
