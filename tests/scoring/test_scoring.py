"""The scoring model on hand-computed cases, the bulk refresh, search and site assembly."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import Connection, Engine, text

from app.services.collections import COLLECTIONS
from geo.db.count import Matched
from geo.ingest.cadastre import load_cadastre
from geo.scoring.model import CRITERIA, Profile, explain
from geo.scoring.profiles import ProfileError, custom_profile, get_profile, load_profiles, validate
from geo.scoring.refresh import refresh_scores
from geo.scoring.search import (
    Filters,
    count_parcels,
    parcel_score,
    search_parcels,
)
from geo.scoring.sites import search_sites
from tests.helpers import CADASTRE_91216

TWO = Profile("t", "test", {"site_area": 2.0, "zoning": 1.0})


def test_mutafriches_index_by_hand() -> None:
    # site area 6 ha: very positive (+2) × 2 = 4; zoning activity +2 × 1 = 2
    assert explain({"area_ha": 6, "zoning_class": "activity"}, TWO)["score"] == 100.0
    # 6 ha (+4) and housing (−2 × 1): 4 / (4 + 2) = 66.67
    assert explain({"area_ha": 6, "zoning_class": "housing"}, TWO)["score"] == 66.67
    # neutral counts on both sides: 6 ha (+4), mixed zoning (+0.5 × 1 each side):
    # advantages 4 + 0.5 = 4.5, constraints 0.5 -> 90 (2 ha is positive, as in Mutafriches)
    r = explain({"area_ha": 6, "zoning_class": "mixed"}, TWO)
    assert (r["advantages"], r["constraints"], r["score"]) == (4.5, 0.5, 90.0)


def test_site_area_bounds_are_the_same_in_sql_and_python(fresh_engine: Engine) -> None:
    """Mutafriches' surfaceSite: < 10,000 m² very negative, up to 50,000 m² included
    positive, more very positive; the bulk score (SQL) and the explanation (Python) agree
    at each bound."""
    criterion = next(c for c in CRITERIA if c.name == "site_area")
    values = (0.9999, 1.0, 4.9999, 5.0, 5.0001)
    with fresh_engine.connect() as conn:
        in_sql = [
            conn.execute(text(f"SELECT {criterion.sql('CAST(:v AS float8)')}"), {"v": v}).scalar()
            for v in values
        ]
    assert in_sql == [criterion.points(v) for v in values] == [-2, 1, 1, 1, 2]


def test_unknown_criteria_are_skipped_and_lower_reliability() -> None:
    r = explain({"area_ha": 6, "zoning_class": None}, TWO)
    assert r["score"] == 100.0  # only the area counts
    assert r["reliability"] == pytest.approx(2 / 3, abs=1e-4)
    zoning = next(c for c in r["criteria"] if c["criterion"] == "zoning")
    assert (zoning["known"], zoning["points"]) == (False, None)


@pytest.mark.parametrize(
    ("feature", "value", "points"),
    [
        ("area_ha", 0.5, -2),
        ("area_ha", 1.0, 1),  # Mutafriches: 1-5 ha positive
        ("motorway_distance_m", 1500, 1),  # Mutafriches: 1-2 km positive
        ("motorway_distance_m", 3000, -1),  # 2-5 km negative
        ("area_ha", 3, 1),
        ("area_ha", 5, 1),  # Mutafriches: exactly 50,000 m² is in its "≤ 50,000 m²" class
        ("area_ha", 5.0001, 2),
        ("compactness", 0.2, -1),
        ("compactness", 0.3, 0.5),
        ("compactness", 0.7, 1),
        ("zoning_class", "activity", 2),
        ("zoning_class", "natural", -2),
        ("zoning_class", "mixed", 0.5),
        ("on_friche", True, 2),
        ("on_friche", False, 0.5),
        ("activity_zone_distance_m", 100, 1),
        ("activity_zone_distance_m", 3000, -1),
        ("pollution", "known", -1),
        ("pollution", "ruled_out", 1),
        ("slope_mean_pct", 1, 1),
        ("slope_mean_pct", 7, -1),
        ("slope_mean_pct", 15, -2),
        ("flood_high_share", 0.0, 0.5),  # Mutafriches: no flood risk is neutral
        ("flood_high_share", 0.2, -1),
        ("flood_high_share", 0.7, -2),
        ("envelope_impact_ha", 0.0, 2),
        ("envelope_impact_ha", 3.2, -1),
    ],
)
def test_each_criterion(feature: str, value, points: float) -> None:
    profile = get_profile("small-industry")
    r = explain({feature: value}, profile)
    scored = [c for c in r["criteria"] if c["value"] == value and c["points"] is not None]
    assert scored and scored[0]["points"] == points


def test_size_fit_follows_the_profile() -> None:
    small, large = get_profile("small-industry"), get_profile("large-industrial-site")

    def fit(profile, area):
        return next(
            c["points"]
            for c in explain({"area_ha": area}, profile)["criteria"]
            if c["criterion"] == "size_fit"
        )

    assert [fit(small, a) for a in (0.1, 0.2, 1.0, 2.5, 4)] == [-2, 0.5, 2, 0.5, -2]
    assert [fit(large, a) for a in (3, 7, 12)] == [-2, 0.5, 2]


def test_exclusions_are_named() -> None:
    profile = get_profile("small-industry")
    farm = explain({"zoning_class": "agricultural", "on_friche": False}, profile)
    assert farm["excluded"] and farm["exclusions"][0]["id"] == "agricultural_or_natural_zoning"
    # a friche in an agricultural zone is not excluded (brownfield exception)
    assert not explain({"zoning_class": "agricultural", "on_friche": True}, profile)["excluded"]
    flood = explain({"flood_high_share": 0.6}, profile)
    assert [e["id"] for e in flood["exclusions"]] == ["high_flood_hazard"]
    assert {e["id"] for e in flood["exclusions_not_evaluated"]} == {"nature_reserve", "wetland"}


def test_profiles_are_validated() -> None:
    assert set(load_profiles()) == {"small-industry", "large-industrial-site", "logistics"}
    with pytest.raises(ProfileError, match="weights must be 0.5, 1 or 2"):
        validate("x", "x", {"zoning": 3})
    with pytest.raises(ProfileError, match="unknown criteria"):
        validate("x", "x", {"view_on_the_sea": 1})
    with pytest.raises(ProfileError, match="unknown profile"):
        get_profile("spaceport")


@pytest.fixture
def scored(fresh_engine: Engine) -> Engine:
    load_cadastre(fresh_engine, CADASTRE_91216)
    refresh_scores(fresh_engine)
    return fresh_engine


def test_bulk_scores_match_the_explained_scores(scored: Engine) -> None:
    profile = get_profile("large-industrial-site")
    with scored.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT parcel_id, score, reliability FROM parcel_score WHERE profile = :p "
                "ORDER BY parcel_id LIMIT 200"
            ),
            {"p": profile.id},
        ).all()
        for parcel_id, score, reliability in rows:
            explained = parcel_score(conn, parcel_id, profile)
            assert explained["score"] == pytest.approx(score, abs=0.01)
            assert explained["reliability"] == pytest.approx(reliability, abs=1e-4)
        counts = conn.execute(text("SELECT profile, count(*) FROM parcel_score GROUP BY 1")).all()
    assert {c for _, c in counts} == {4241}


def test_a_friche_outline_makes_its_parcels_friches(scored: Engine) -> None:
    # A synthetic friche drawn exactly over parcel AB 37: on a friche, no NAF consumed;
    # its pollution is not said, so its remediation cost is unknown (never 0 €).
    with scored.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO friche (site_id, name, departement_code, commune_insee, geom) "
                "SELECT 'SYNTH-1', 'friche (synthetic)', '91', '91216', geom FROM parcel "
                "WHERE id = '91216000AB0037'"
            )
        )
    refresh_scores(scored, commune="91216")
    with scored.connect() as conn:
        r = parcel_score(conn, "91216000AB0037", get_profile("small-industry"))
        other = parcel_score(conn, "91216000AB0025", get_profile("small-industry"))
    values = {c["criterion"]: (c["value"], c["points"]) for c in r["criteria"]}
    assert values["on_friche"] == (True, 2.0)
    assert values["envelope_impact"] == (0.0, 2.0)
    assert r["remediation_cost_eur"] is None
    # the département now has a friche layer: elsewhere "not on a friche" is known
    assert {c["criterion"]: c["points"] for c in other["criteria"]}["on_friche"] == 0.5


def test_search_filters_sorts_and_pages(scored: Engine) -> None:
    profile = get_profile("large-industrial-site")
    with scored.connect() as conn:
        page = search_parcels(conn, profile, Filters(commune="91216"), limit=10)
        matched = count_parcels(conn, profile, Filters(commune="91216"), up_to=10)
        big_filters = Filters(commune="91216", min_area_ha=5)
        big = search_parcels(conn, profile, big_filters, limit=100)
        big_matched = count_parcels(conn, profile, big_filters, up_to=100)
    # counted up to 10: "more than 10" of the commune's 4,241
    assert matched == Matched(10, exact=False) and len(page) == 10
    scores = [p.explanation["score"] for p in page]
    assert scores == sorted(scores, reverse=True)
    assert all(p.row["area_ha"] >= 5 for p in big) and big_matched.exact
    assert 0 < big_matched.count < 100
    assert page[0].explanation["criteria"][0]["criterion"] == "site_area"


def test_epci_filter_and_custom_weights(scored: Engine) -> None:
    profile = get_profile("small-industry")
    custom = custom_profile(profile, {"zoning": 2, "site_area": 1})
    with scored.connect() as conn:
        in_epci, elsewhere = (
            count_parcels(conn, profile, Filters(epci=epci), up_to=10_000)
            for epci in ("200056232", "200041630")
        )
        page = search_parcels(conn, custom, Filters(epci="200056232"), limit=5)
        matched = count_parcels(conn, custom, Filters(epci="200056232"), up_to=5000)
    assert (in_epci, elsewhere, matched) == (Matched(4241), Matched(0), Matched(4241))
    # only the two weighted criteria: a 6 ha parcel with unknown zoning scores 100
    assert [c["criterion"] for c in page[0].explanation["criteria"]] == ["zoning", "site_area"]
    assert page[0].explanation["score"] == 100.0


def test_sites_assemble_touching_parcels_only(scored: Engine) -> None:
    profile = get_profile("large-industrial-site")
    with scored.connect() as conn:
        touching = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=10, gap_m=0)
        with_gap = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=10, gap_m=20)
        # every site's parcels form one connected piece (touching within the gap)
        for site in touching:
            ids = site.parcel_ids
            parts = conn.execute(
                text(
                    "SELECT ST_NumGeometries(ST_UnaryUnion(ST_Collect(geom))) FROM parcel "
                    "WHERE id = ANY(:ids)"
                ),
                {"ids": ids},
            ).scalar_one()
            assert parts == 1 or len(ids) == 1
            assert site.area_ha >= 10
    assert touching and with_gap
    # a 20 m gap joins more parcels: the largest site can only grow
    assert max(s.area_ha for s in with_gap) >= max(s.area_ha for s in touching)


def insert_squares(engine: Engine, corners: list[tuple[int, int]]) -> None:
    """Synthetic 1 ha square parcels 91216000ZZ0000… with these Lambert-93 corners."""
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE IF NOT EXISTS parcel_d91 PARTITION OF parcel FOR VALUES IN ('91')")
        )
        for i, (x, y) in enumerate(corners):
            conn.execute(
                text(
                    "INSERT INTO parcel (id, departement_code, commune_insee, prefixe, section, "
                    "numero, contenance, area_m2, geom) VALUES (:id, '91', '91216', '000', 'ZZ', "
                    ":num, 10000, 10000, "
                    "ST_Multi(ST_MakeEnvelope(:x, :y, :x + 100, :y + 100, 2154)))"
                ),
                {"id": f"91216000ZZ{i:04d}", "num": f"{i:04d}", "x": x, "y": y},
            )


def test_sites_of_two_separate_squares(fresh_engine: Engine) -> None:
    """Synthetic parcels: two touching 1 ha squares and a third 50 m away."""
    insert_squares(fresh_engine, [(650000, 6840000), (650100, 6840000), (650250, 6840000)])
    refresh_scores(fresh_engine)
    profile = get_profile("small-industry")
    with fresh_engine.connect() as conn:
        touching = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=1.5)
        bridged = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=2.5, gap_m=60)
        too_far = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=2.5, gap_m=40)
    assert [s.parcel_ids for s in touching] == [["91216000ZZ0000", "91216000ZZ0001"]]
    assert touching[0].area_ha == pytest.approx(2.0)
    assert touching[0].envelope_impact_ha == pytest.approx(2.0)
    assert [len(s.parcel_ids) for s in bridged] == [3]
    assert too_far == []


def test_full_refresh_swaps_in_tables_identical_to_the_schema(scored: Engine) -> None:
    """A full refresh builds new tables and swaps them in: same names, keys, indexes and
    defaults as geo.db.schema declares, and the same scores as a commune refresh."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from geo.db.schema import include_object, metadata

    def snapshot() -> list[tuple]:
        with scored.connect() as conn:
            return conn.execute(
                text(
                    "SELECT parcel_id, profile, score, reliability, excluded FROM parcel_score "
                    "ORDER BY 1, 2"
                )
            ).all()

    before = snapshot()
    refresh_scores(scored, workers=2)
    with scored.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object, "compare_type": True}
        )
        assert compare_metadata(context, metadata) == []
        leftovers = conn.execute(
            text("SELECT relname FROM pg_class WHERE relname LIKE '%\\_next%'")
        ).all()
    assert leftovers == []
    after = snapshot()
    assert len(after) == 3 * 4241
    assert after == before
    refresh_scores(scored, commune="91216")
    assert snapshot() == before


def test_a_failed_full_refresh_keeps_the_previous_scores(scored: Engine, monkeypatch) -> None:
    from geo.scoring import refresh

    with scored.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM parcel_score")).scalar_one()

    def broken(conn, renames) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(refresh, "_swap", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        refresh_scores(scored)
    with scored.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcel_score")).scalar_one() == count
        assert not conn.execute(text("SELECT to_regclass('parcel_score_next')")).scalar()


def test_distance_to_the_nearest_activity_zone(fresh_engine: Engine) -> None:
    """Nearest zone, exact polygon distance, capped at 2 km: a 100 m square parcel, an
    activity zone 300 m east, another 150 m north, a housing zone touching it."""
    with fresh_engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE IF NOT EXISTS parcel_d91 PARTITION OF parcel FOR VALUES IN ('91')")
        )
        conn.execute(
            text(
                "INSERT INTO parcel (id, departement_code, commune_insee, prefixe, section, "
                "numero, contenance, area_m2, geom) VALUES "
                "('91216000ZZ0001', '91', '91216', '000', 'ZZ', '0001', 10000, 10000, "
                " ST_Multi(ST_MakeEnvelope(650000, 6840000, 650100, 6840100, 2154))), "
                "('91216000ZZ0002', '91', '91216', '000', 'ZZ', '0002', 10000, 10000, "
                " ST_Multi(ST_MakeEnvelope(660000, 6840000, 660100, 6840100, 2154)))"
            )
        )
        for gpu_id, cls, box in [
            ("east", "activity", (650400, 6840000, 650500, 6840100)),
            ("north", "activity", (650000, 6840250, 650100, 6840350)),
            ("next door", "housing", (650100, 6840000, 650200, 6840100)),
        ]:
            conn.execute(
                text(
                    "INSERT INTO plu_zone (gpu_id, libelle, typezone, zoning_class, "
                    "departement_code, geom) VALUES (:id, 'U', 'U', :cls, '91', "
                    "ST_Multi(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 2154)))"
                ),
                dict(id=gpu_id, cls=cls, x0=box[0], y0=box[1], x1=box[2], y1=box[3]),
            )
    refresh_scores(fresh_engine)
    with fresh_engine.connect() as conn:
        distances = dict(
            conn.execute(
                text("SELECT parcel_id, activity_zone_distance_m FROM parcel_features")
            ).all()
        )
    assert distances == {"91216000ZZ0001": pytest.approx(150.0), "91216000ZZ0002": 2000.0}


def _grid(scores: dict[tuple[int, int], float]) -> dict:
    """1 ha parcels on a grid, neighbours sharing an edge."""
    from geo.scoring.sites import Parcel

    parcels = {f"{x}{y}": Parcel(f"{x}{y}", score, 1.0) for (x, y), score in scores.items()}
    for x, y in scores:
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            if (x + dx, y + dy) in scores:
                parcels[f"{x}{y}"].neighbours.add(f"{x + dx}{y + dy}")
    return parcels


def test_sites_grow_from_the_best_parcel_to_the_requested_size() -> None:
    from geo.scoring.sites import grow_sites

    # a 3 x 3 block; the best parcel in a corner, its best neighbour above it
    scores = {(x, y): 50.0 for x in range(3) for y in range(3)}
    scores[(0, 0)], scores[(0, 1)], scores[(1, 0)] = 90.0, 80.0, 70.0
    sites = grow_sites(_grid(scores), min_area_ha=2.5)
    first = sites[0]
    assert [p.id for p in first.parcels] == ["00", "01", "10"]
    assert first.area_ha == 3.0
    assert first.score == pytest.approx((90 + 80 + 70) / 3)
    # the rest of the block makes two more sites of 3 ha; no parcel is in two sites
    assert [s.area_ha for s in sites] == [3.0, 3.0, 3.0]
    ids = [p.id for s in sites for p in s.parcels]
    assert len(ids) == len(set(ids)) == 9


def test_a_block_too_small_or_cut_off_gives_no_site() -> None:
    from geo.scoring.sites import grow_sites

    # two parcels, then a lone one: a 2.5 ha request fits nowhere
    scores = {(0, 0): 60.0, (1, 0): 60.0, (5, 0): 99.0}
    assert grow_sites(_grid(scores), min_area_ha=2.5) == []
    sites = grow_sites(_grid(scores), min_area_ha=2.0)
    assert [[p.id for p in s.parcels] for s in sites] == [["00", "10"]]


def test_sites_search_cuts_a_long_block_into_sites_of_the_requested_size(
    fresh_engine: Engine,
) -> None:
    """Six touching 1 ha squares in a row and two squares meeting only at a corner."""
    squares = [(650000 + 100 * i, 6840000) for i in range(6)]
    squares += [(651000, 6840000), (651100, 6840100)]  # corner to corner
    insert_squares(fresh_engine, squares)
    refresh_scores(fresh_engine)
    profile = get_profile("small-industry")
    with fresh_engine.connect() as conn:
        sites = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=2)
        bridged = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=2, gap_m=1)
    parcels = sorted(s.parcel_ids for s in sites)
    assert parcels == [
        ["91216000ZZ0000", "91216000ZZ0001"],
        ["91216000ZZ0002", "91216000ZZ0003"],
        ["91216000ZZ0004", "91216000ZZ0005"],
    ]
    assert all(s.area_ha == pytest.approx(2.0) for s in sites)
    assert all(json.loads(s.outline)["type"] == "Polygon" for s in sites)  # one piece each
    # a 1 m gap lets the corner-to-corner pair count as neighbours
    assert ["91216000ZZ0006", "91216000ZZ0007"] in [s.parcel_ids for s in bridged]


def test_a_walk_that_does_not_settle_is_cut_short() -> None:
    from geo.scoring.sites import WalkTooLong, grow_sites

    scores = {(x, 0): 50.0 for x in range(30)}  # a 30 ha strip
    lookups: list[list[str]] = []
    grid = _grid(scores)

    def neighbours(ids: list[str]) -> dict[str, set[str]]:
        lookups.append(ids)
        return {i: grid[i].neighbours for i in ids}

    with pytest.raises(WalkTooLong):
        grow_sites(grid, min_area_ha=100, neighbours=neighbours, max_lookups=10)
    assert len(lookups) == 10
    # with a limit, the walk stops once the best sites are certain: scores falling along
    # the strip, the first site (99.5) beats every later seed (98 and below)
    grid = _grid({(x, 0): 100.0 - x for x in range(30)})
    lookups.clear()
    sites = grow_sites(grid, min_area_ha=2, limit=1, neighbours=neighbours)
    assert [[p.id for p in s.parcels] for s in sites] == [["00", "10"]]
    assert len(lookups) == 1


def test_activity_distance_is_unknown_where_no_layer_covers_the_departement(
    fresh_engine: Engine,
) -> None:
    """Point 11 of issue 13: an activity zone in the Essonne says nothing of a parcel in
    the Ardennes: its distance is unknown (NULL, skipped), not "2 km or more" scored −1."""
    insert_squares(fresh_engine, [(650000, 6840000)])
    with fresh_engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE IF NOT EXISTS parcel_d08 PARTITION OF parcel FOR VALUES IN ('08')")
        )
        conn.execute(
            text(
                "INSERT INTO parcel (id, departement_code, commune_insee, prefixe, section, "
                "numero, contenance, area_m2, geom) VALUES ('08105000ZZ0001', '08', '08105', "
                "'000', 'ZZ', '0001', 10000, 10000, "
                "ST_Multi(ST_MakeEnvelope(820000, 6960000, 820100, 6960100, 2154)))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO plu_zone (gpu_id, libelle, typezone, zoning_class, departement_code, "
                "geom) VALUES ('z', 'Ux', 'U', 'activity', '91', "
                "ST_Multi(ST_MakeEnvelope(650400, 6840000, 650500, 6840100, 2154)))"
            )
        )
    refresh_scores(fresh_engine)
    with fresh_engine.connect() as conn:
        distances = dict(
            conn.execute(
                text("SELECT parcel_id, activity_zone_distance_m FROM parcel_features")
            ).all()
        )
        ardennes = parcel_score(conn, "08105000ZZ0001", get_profile("small-industry"))
    assert distances == {"91216000ZZ0000": pytest.approx(300.0), "08105000ZZ0001": None}
    criterion = {c["criterion"]: c for c in ardennes["criteria"]}["activity_zone_distance"]
    assert criterion["points"] is None


def test_envelope_impact_counts_an_overlap_once_and_remediation_once(
    fresh_engine: Engine,
) -> None:
    """Point 11 of issue 13, on a synthetic 100 m × 100 m parcel (1 ha): a friche over its
    west 60 m (0.6 ha) and artificialised land over its west 75 m (0.75 ha), overlapping on
    0.6 ha. NAF = 1 − area(union) = 1 − 0.75 = 0.25 ha, as the ledger computes it (it used
    to be max(1 − 0.6 − 0.75, 0) = 0). Remediation: 0.6 ha of friche with known pollution ×
    1,170,000 €/ha = 702,000 € (780 k€/ha is the average over polluted and clean friches:
    clean = 780 / (1 + 2 × 0.5) = 390 k€/ha, polluted 3 × 390 = 1,170 k€/ha)."""
    insert_squares(fresh_engine, [(650000, 6840000)])
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO friche (site_id, name, departement_code, commune_insee, "
                "sol_pollution_existe, geom) VALUES ('SYNTH-2', 'friche (synthetic)', '91', "
                "'91216', 'pollution avérée', "
                "ST_Multi(ST_MakeEnvelope(650000, 6840000, 650060, 6840100, 2154)))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO artificialised_land (id, source, geom) VALUES ('a', 'synthetic', "
                "ST_Multi(ST_MakeEnvelope(650000, 6840000, 650075, 6840100, 2154)))"
            )
        )
    refresh_scores(fresh_engine)
    with fresh_engine.connect() as conn:
        impact, cost = conn.execute(
            text("SELECT envelope_impact_ha, remediation_cost_eur FROM parcel_features")
        ).one()
    assert impact == pytest.approx(0.25)
    assert cost == pytest.approx(702_000)


def test_full_refresh_rebuilds_the_indexes_as_declared(fresh_engine: Engine) -> None:
    """A full refresh swaps in new score tables (geo.scoring.refresh._rebuild): their key and
    indexes are the migrated ones, the key's INCLUDE columns too (migration 0017), and a
    tile's join reads a score from the key alone once the table is vacuumed."""
    indexes = (
        "SELECT indexname, indexdef FROM pg_indexes "
        "WHERE tablename IN ('parcel_score', 'parcel_features') ORDER BY 1"
    )
    with fresh_engine.connect() as conn:
        before = conn.execute(text(indexes)).all()
    load_cadastre(fresh_engine, CADASTRE_91216)
    refresh_scores(fresh_engine, workers=2)
    with fresh_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        after = conn.execute(text(indexes)).all()
        conn.exec_driver_sql("VACUUM ANALYZE parcel_score")
        # 4,241 parcels: the planner would hash them; a tile's few thousand probe the key
        for method in ("seqscan", "hashjoin", "mergejoin"):
            conn.exec_driver_sql(f"SET enable_{method} = off")
        plan = conn.execute(
            text(
                f"EXPLAIN SELECT s.score, s.excluded FROM {COLLECTIONS['parcels'].source} "
                "WHERE p.commune_insee = '91216'"
            )
        ).scalars()
        plan_text = "\n".join(plan)
    assert after == before
    assert "INCLUDE (score, excluded)" in dict(after)["parcel_score_pkey"]
    assert "INCLUDE (excluded, area_ha)" in dict(after)["parcel_score_epci_idx"]
    assert "Index Only Scan using parcel_score_pkey" in plan_text


def test_commune_refresh_rewrites_only_what_changed(scored: Engine) -> None:
    """geo.scoring.refresh._write_changed: a score or a feature row that changed is
    rewritten, the rows of a parcel gone and the scores of a profile no longer listed are
    deleted, and every other row stays where it was (same ctid: not rewritten)."""
    changed, gone = "91216000AB0037", "91216000AB0025"
    locations = {
        "parcel_score": "SELECT parcel_id || '/' || profile, ctid::text, score FROM parcel_score",
        "parcel_features": "SELECT parcel_id, ctid::text, compactness FROM parcel_features",
    }

    def rows(conn: Connection) -> dict[str, dict[str, tuple[str, float]]]:
        return {
            table: {key: (ctid, value) for key, ctid, value in conn.execute(text(sql))}
            for table, sql in locations.items()
        }

    with scored.begin() as conn:
        before = rows(conn)
        conn.execute(
            text(
                "UPDATE parcel_score SET score = -1 WHERE parcel_id = :p AND profile = 'logistics'"
            ),
            {"p": changed},
        )
        conn.execute(
            text("UPDATE parcel_features SET compactness = -1 WHERE parcel_id = :p"),
            {"p": changed},
        )
        conn.execute(
            text(
                "INSERT INTO parcel_score SELECT parcel_id, 'retired-profile', departement_code, "
                "commune_insee, epci_siren, model_version, score, reliability, excluded, area_ha "
                "FROM parcel_score WHERE parcel_id = :p AND profile = 'logistics'"
            ),
            {"p": changed},
        )
        conn.execute(text("DELETE FROM parcel WHERE id = :p"), {"p": gone})
    refresh_scores(scored, commune="91216")
    with scored.connect() as conn:
        after = rows(conn)
    scores, features = after["parcel_score"], after["parcel_features"]
    assert scores[f"{changed}/logistics"][1] == before["parcel_score"][f"{changed}/logistics"][1]
    assert features[changed][1] == before["parcel_features"][changed][1] != -1
    assert f"{changed}/retired-profile" not in scores
    assert not [key for table in after.values() for key in table if key.startswith(gone)]
    for table, per_parcel in (("parcel_score", 3), ("parcel_features", 1)):
        kept = {
            key: where
            for key, where in before[table].items()
            if not key.startswith((changed, gone))
        }
        assert len(kept) == per_parcel * 4239
        assert all(after[table][key] == where for key, where in kept.items()), table


def test_features_pass_reads_only_the_scope() -> None:
    """The features pass joins the scope's parcels to per-scope temporary tables only
    (geo.scoring.refresh_sql.LAYERS): a join to a whole national table let the planner hash the
    scope and read that table through (parcel_building: 66 ms of a commune's refresh at 1 M
    parcels). Small reference tables (the PLU documents) are the exception."""
    from geo.scoring.refresh_sql import features

    statement = features("t").as_string(None)
    joined = set(re.findall(r'(?:FROM|JOIN)\s+(?!LATERAL)"?(\w+)', statement))
    assert {t for t in joined if not t.startswith("refresh_")} == {"parcel", "plu_document"}
    assert {"refresh_buildings", "refresh_terrain", "refresh_owners"} <= joined
