"""The scoring model on hand-computed cases, the bulk refresh, search and site assembly."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from geo.loaders.cadastre import load_cadastre
from geo.scoring.model import Profile, explain
from geo.scoring.profiles import ProfileError, get_profile, load_profiles, validate
from geo.scoring.refresh import refresh_scores
from geo.scoring.search import Filters, parcel_score, search_parcels, search_sites
from tests.conftest import CADASTRE_91216

TWO = Profile("t", "test", {"site_area": 2.0, "zoning": 1.0})


def test_mutafriches_index_by_hand() -> None:
    # site area 6 ha: very positive (+2) × 2 = 4; zoning activity +2 × 1 = 2
    assert explain({"area_ha": 6, "zoning_class": "activity"}, TWO)["score"] == 100.0
    # 6 ha (+4) and housing (−2 × 1): 4 / (4 + 2) = 66.67
    assert explain({"area_ha": 6, "zoning_class": "housing"}, TWO)["score"] == 66.67
    # neutral counts on both sides: 2 ha (+0.5 × 2 = 1 each side), activity +2:
    # advantages 1 + 2 = 3, constraints 1 -> 75
    r = explain({"area_ha": 2, "zoning_class": "activity"}, TWO)
    assert (r["advantages"], r["constraints"], r["score"]) == (3.0, 1.0, 75.0)


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
        ("area_ha", 1.0, 0.5),
        ("area_ha", 3, 1),
        ("area_ha", 5, 2),
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
        ("flood_high_share", 0.0, 1),
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
    # A synthetic friche drawn exactly over parcel AB 37: on a friche, no NAF consumed,
    # remediation at 780 k€/ha.
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
    assert r["remediation_cost_eur"] == pytest.approx(25.697 * 780_000, rel=0.001)
    # the département now has a friche layer: elsewhere "not on a friche" is known
    assert {c["criterion"]: c["points"] for c in other["criteria"]}["on_friche"] == 0.5


def test_search_filters_sorts_and_pages(scored: Engine) -> None:
    profile = get_profile("large-industrial-site")
    with scored.connect() as conn:
        page, matched = search_parcels(conn, profile, Filters(commune="91216"), limit=10)
        big, big_matched = search_parcels(
            conn, profile, Filters(commune="91216", min_area_ha=5), limit=100
        )
    assert matched == 4241 and len(page) == 10
    scores = [f["properties"]["score"] for f in page]
    assert scores == sorted(scores, reverse=True)
    assert all(f["properties"]["area_ha"] >= 5 for f in big) and 0 < big_matched < 100
    assert page[0]["properties"]["criteria"][0]["criterion"] == "site_area"


def test_epci_filter_and_custom_weights(scored: Engine) -> None:
    profile = get_profile("small-industry")
    custom = validate("custom", "zoning only", {"zoning": 2, "site_area": 1})
    with scored.connect() as conn:
        _, in_epci = search_parcels(conn, profile, Filters(epci="200056232"), limit=1)
        _, elsewhere = search_parcels(conn, profile, Filters(epci="200041630"), limit=1)
        page, matched = search_parcels(
            conn, custom, Filters(epci="200056232"), limit=5, custom=True
        )
    assert (in_epci, elsewhere, matched) == (4241, 0, 4241)
    # only the two weighted criteria: a 6 ha parcel with unknown zoning scores 100
    assert [c["criterion"] for c in page[0]["properties"]["criteria"]] == ["zoning", "site_area"]
    assert page[0]["properties"]["score"] == 100.0


def test_sites_assemble_touching_parcels_only(scored: Engine) -> None:
    profile = get_profile("large-industrial-site")
    with scored.connect() as conn:
        touching = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=10, gap_m=0)
        with_gap = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=10, gap_m=20)
        # every site's parcels form one connected piece (touching within the gap)
        for site in touching:
            ids = site["properties"]["parcels"]
            parts = conn.execute(
                text(
                    "SELECT ST_NumGeometries(ST_UnaryUnion(ST_Collect(geom))) FROM parcel "
                    "WHERE id = ANY(:ids)"
                ),
                {"ids": ids},
            ).scalar_one()
            assert parts == 1 or len(ids) == 1
            assert site["properties"]["area_ha"] >= 10
    assert touching and with_gap
    # a 20 m gap joins more parcels: the largest site can only grow
    assert max(s["properties"]["area_ha"] for s in with_gap) >= max(
        s["properties"]["area_ha"] for s in touching
    )


def test_sites_of_two_separate_squares(fresh_engine: Engine) -> None:
    """Synthetic parcels: two touching 1 ha squares and a third 50 m away."""
    with fresh_engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE IF NOT EXISTS parcel_d91 PARTITION OF parcel FOR VALUES IN ('91')")
        )
        for i, (x, y) in enumerate([(650000, 6840000), (650100, 6840000), (650250, 6840000)]):
            pid = f"91216000ZZ{i:04d}"
            conn.execute(
                text(
                    "INSERT INTO parcel (id, departement_code, commune_insee, prefixe, section, "
                    "numero, contenance, area_m2, geom) VALUES (:id, '91', '91216', '000', 'ZZ', "
                    ":num, 10000, 10000, "
                    "ST_Multi(ST_MakeEnvelope(:x, :y, :x + 100, :y + 100, 2154)))"
                ),
                {"id": pid, "num": f"{i:04d}", "x": x, "y": y},
            )
    refresh_scores(fresh_engine)
    profile = get_profile("small-industry")
    with fresh_engine.connect() as conn:
        touching = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=1.5)
        bridged = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=2.5, gap_m=60)
        too_far = search_sites(conn, profile, Filters(commune="91216"), min_area_ha=2.5, gap_m=40)
    assert [s["properties"]["parcels"] for s in touching] == [["91216000ZZ0000", "91216000ZZ0001"]]
    assert touching[0]["properties"]["area_ha"] == pytest.approx(2.0)
    assert touching[0]["properties"]["envelope_impact_ha"] == pytest.approx(2.0)
    assert [len(s["properties"]["parcels"]) for s in bridged] == [3]
    assert too_far == []
