"""The demo territories: what `foncier import demo` loads where the layers overlap, and the
README's searches reproduced on it (same steps: app.services.demo)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.services.demo import demo_steps
from app.settings import Settings
from geo.db.count import COUNT_CAP, Matched
from geo.scoring.refresh import refresh_scores
from tests.conftest import DATA, Databases, engine_for

DEMO_COMMUNES = ("91027", "91326", "91432", "91479")  # TI Grand-Orly Seine Bièvre
MGP = "200054781"  # their EPCI in the COG reference: the Métropole du Grand Paris

# The README's EPCI search, "2 ha or more, not in a housing zone" (README, "A search on
# the demo territory"): its real answer on the demo data.
README_SEARCH = f"/parcels/search?epci={MGP}&min_area=2&exclude_zoning=housing&limit=5"
README_MATCHED = 81
README_TOP = [
    "910270000A0125",
    "910270000A0229",
    "910270000A0233",
    "910270000D0395",
    "910270000O0026",
]


@pytest.fixture(scope="module")
def demo_url(databases: Databases, template_db: str) -> str:
    url = databases.create(f"{template_db}_ground_demo", template=template_db)
    engine = engine_for(url)
    for path, load in demo_steps(DATA, with_admin=False):  # the template holds admin
        load(engine, path)
    refresh_scores(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def demo_client(base_settings: Settings, demo_url: str) -> Iterator[TestClient]:
    from app.api.main import create_app

    app = create_app(base_settings.model_copy(update={"database_url": demo_url}))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def test_readme_epci_search(demo_client: TestClient) -> None:
    answer = demo_client.get(README_SEARCH).json()
    assert answer["numberMatched"] == README_MATCHED
    assert [f["id"] for f in answer["features"]] == README_TOP
    top = answer["features"][0]["properties"]
    assert top["commune"] in DEMO_COMMUNES and top["area_ha"] >= 2
    # no PLU is published offline for these communes: the zoning is "not loaded here",
    # never guessed, and reliability says how much is known
    zoning = next(c for c in top["criteria"] if c["criterion"] == "zoning")
    assert (zoning["known"], zoning["value"]) == (False, None)
    assert top["reliability"] < 0.5


def test_readme_vacant_or_underused_search(demo_client: TestClient) -> None:
    """The README's search on Terres-de-Bord (27412), whose cadastre buildings are loaded."""
    answer = demo_client.get(
        "/parcels/search?epci=200089456&min_area=2&land_use=vacant,underused"
        "&exclude_zoning=housing&limit=5"
    ).json()
    assert answer["numberMatched"] == 224
    assert [f["id"] for f in answer["features"]] == [
        "274120000A0734",
        "274120000A0810",
        "274120000A0831",
        "274120000A1293",
        "27412000ZA0205",
    ]
    assert all(f["properties"]["land_use"] == "vacant" for f in answer["features"])
    built = demo_client.get("/parcels/search?epci=200089456&min_area=2&land_use=built").json()
    assert built["numberMatched"] == 0
    covered = demo_client.get("/parcels/274120000A0584/score").json()
    land_use = next(c for c in covered["criteria"] if c["criterion"] == "land_use")
    assert (land_use["value"], land_use["points"]) == ("built", -2.0)


def test_the_territoire_industrie_search_gives_the_same_parcels(demo_client: TestClient) -> None:
    by_ti = demo_client.get(
        "/parcels/search?territoire_industrie=ti-1104&min_area=2&exclude_zoning=housing&limit=5"
    ).json()
    assert by_ti["numberMatched"] == README_MATCHED
    assert [f["id"] for f in by_ti["features"]] == README_TOP


def test_exclude_zoning_drops_housing_only(demo_client: TestClient) -> None:
    everything = demo_client.get("/parcels/search?commune=17345&include_excluded=true").json()
    no_housing = demo_client.get(
        "/parcels/search?commune=17345&include_excluded=true&exclude_zoning=housing"
    ).json()
    assert everything["numberMatched"] == no_housing["numberMatched"] == 0  # no parcels there
    bad = demo_client.get("/parcels/search?epci=200054781&exclude_zoning=factory")
    assert bad.status_code == 400 or bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


def test_trajectory_of_the_real_territoire_industrie(demo_client: TestClient) -> None:
    answer = demo_client.get("/trajectories/territoire_industrie/ti-1104").json()
    assert answer["territory"]["name"] == "Grand-Orly Seine Bièvre"
    assert answer["communes"] >= 4
    # no NAF consumption file covers these communes offline: said, not invented
    assert answer["communes_without_data"] == answer["communes"]
    missing = demo_client.get("/trajectories/territoire_industrie/ti-9999")
    assert missing.status_code == 404


def test_the_map_layer_of_territoires_industrie(demo_client: TestClient) -> None:
    collection = demo_client.get("/collections/territoires-industrie/items?limit=200").json()
    assert collection["numberMatched"] == 149
    feature = demo_client.get("/collections/territoires-industrie/items/ti-1104").json()
    assert feature["id"] == "ti-1104" and feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["members"] == [
        {"siren": "200058014", "name": "EPT Grand-Orly Seine Bièvre", "resolved_as": "unknown"}
    ]
    commune = demo_client.get("/communes/91027").json()
    assert commune["properties"]["territoires_industrie"] == ["ti-1104"]
    # the map's TI layer: the vector tile over Orly holds the outline, one far away none
    lon, lat, z = 2.37, 48.72, 10
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    tile = demo_client.get(f"/tiles/territoires-industrie/{z}/{x}/{y}.mvt")
    assert tile.status_code == 200 and b"ti-1104" in tile.content
    atlantic = demo_client.get("/tiles/territoires-industrie/10/400/400.mvt")
    assert b"ti-1104" not in atlantic.content


def test_demo_loads_the_overlapping_territory(demo_url: str) -> None:
    engine = engine_for(demo_url)
    with engine.connect() as conn:
        parcels = dict(
            conn.execute(
                text("SELECT commune_insee, count(*) FROM parcel GROUP BY 1 ORDER BY 1")
            ).all()
        )
        located = set(
            conn.execute(
                text("SELECT insee FROM territoire_industrie_commune "
                     "WHERE territoire_industrie_id = 'ti-1104'")
            ).scalars()
        )  # fmt: skip
    engine.dispose()
    assert parcels == {
        "27412": 1990, "91027": 6759, "91216": 4241, "91326": 2859, "91432": 5166,
        "91479": 2857,
    }  # fmt: skip
    assert set(DEMO_COMMUNES) <= located


def test_search_without_territory_pages_as_one_sort(demo_client: TestClient, demo_url: str) -> None:
    """With no territory the page is merged from each département's best scores
    (geo.scoring.search._page_sql): the same parcels in the same order as one sort of
    every score, on a base of two départements (91 and 27), past the first page too."""
    engine = engine_for(demo_url)
    with engine.connect() as conn:
        departements, expected = (
            conn.execute(
                text(
                    f"SELECT {what} FROM parcel_score WHERE profile = 'large-industrial-site' "
                    f"AND NOT excluded {tail}"
                )
            )
            .scalars()
            .all()
            for what, tail in (
                ("DISTINCT departement_code", ""),
                ("parcel_id", "ORDER BY score DESC NULLS LAST, parcel_id LIMIT 40 OFFSET 1990"),
            )
        )
    engine.dispose()
    assert sorted(departements) == ["27", "91"]
    params = {"profile": "large-industrial-site", "limit": 40}
    pages = [
        demo_client.get("/parcels/search", params={**params, "offset": offset}).json()
        for offset in (1990, 2010)
    ]
    assert [f["id"] for f in pages[0]["features"]] == expected
    assert [f["id"] for f in pages[1]["features"]][:20] == expected[20:]


def test_counts_stop_at_the_cap(demo_client: TestClient) -> None:
    """23,872 parcels: the answers say "more than 10,000" (geo.db.count) instead of
    counting them all, still link the next page, and count exactly below the cap."""
    for path in ("/parcels/search", "/collections/parcels/items", "/parcels"):
        answer = demo_client.get(path, params={"limit": 3}).json()
        assert "numberMatched" not in answer, path
        assert answer["numberMatchedMoreThan"] == COUNT_CAP, path
        assert "next" in {link["rel"] for link in answer["links"]}, path
    # an offset past the cap counts as far as its page reaches
    deep = demo_client.get("/parcels", params={"limit": 10, "offset": 23_860}).json()
    assert deep["numberMatchedMoreThan"] == 23_870 and deep["numberReturned"] == 10
    assert "next" in {link["rel"] for link in deep["links"]}
    last = demo_client.get("/parcels", params={"limit": 10, "offset": 23_865}).json()
    assert last["numberMatched"] == 23_872 and last["numberReturned"] == 7
    assert "next" not in {link["rel"] for link in last["links"]}
    # an export counts up to its own limit: every parcel, counted exactly
    export = demo_client.get("/parcels/search", params={"format": "geojson"}).json()
    assert export["numberMatched"] == len(export["features"]) == 23_872


def test_matched_bounds() -> None:
    exact, beyond = Matched(25), Matched(10, exact=False)
    assert exact.exceeds(24) and not exact.exceeds(25)
    assert beyond.exceeds(10) and not beyond.exceeds(11)
    assert str(beyond) == "more than 10" and beyond.members() == {"numberMatchedMoreThan": 10}
