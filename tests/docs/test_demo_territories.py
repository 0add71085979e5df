"""The demo territories: what `foncier import demo` loads where the layers overlap, and the
searches the README and docs/ranking.md show, reproduced on it (same steps:
app.services.demo) and found in the text with the answers it states."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import numpy as np
import pytest
import shapely
import shapely.geometry
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.services.collections import COLLECTIONS
from app.services.demo import demo_steps
from app.settings import PROJECT_DIR, Settings
from geo.db.count import Matched, count_within
from geo.scoring.refresh import refresh_scores
from tests.helpers import DATA, Databases, engine_for

pytestmark = pytest.mark.slow

DEMO_COMMUNES = ("91027", "91326", "91432", "91479")  # TI Grand-Orly Seine Bièvre
MGP = "200054781"  # their EPCI in the COG reference: the Métropole du Grand Paris

# The EPCI search "2 ha or more, not in a housing zone" (README, "A first search", and
# docs/ranking.md, "A search on the demo territory"): its real answer on the demo data.
README_SEARCH = f"/parcels/search?epci={MGP}&min_area=2&exclude_zoning=housing&limit=5"
README_MATCHED = 81
README_TOP = [
    "910270000A0125",
    "910270000A0229",
    "910270000A0233",
    "910270000D0395",
    "910270000O0026",
]
# The search on Terres-de-Bord (27412), whose cadastre buildings are loaded (docs/ranking.md).
VACANT_SEARCH = (
    "/parcels/search?epci=200089456&min_area=2&land_use=vacant,underused"
    "&exclude_zoning=housing&limit=5"
)
VACANT_MATCHED = 224
VACANT_TOP = [
    "274120000A0734",
    "274120000A0810",
    "274120000A0831",
    "274120000A1293",
    "27412000ZA0205",
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
    answer = demo_client.get(VACANT_SEARCH).json()
    assert answer["numberMatched"] == VACANT_MATCHED
    assert [f["id"] for f in answer["features"]] == VACANT_TOP
    assert all(f["properties"]["land_use"] == "vacant" for f in answer["features"])
    built = demo_client.get("/parcels/search?epci=200089456&min_area=2&land_use=built").json()
    assert built["numberMatched"] == 0
    covered = demo_client.get("/parcels/274120000A0584/score").json()
    land_use = next(c for c in covered["criteria"] if c["criterion"] == "land_use")
    assert (land_use["value"], land_use["points"]) == ("built", -2.0)


@pytest.mark.parametrize(
    ("doc", "search", "matched", "top"),
    [
        ("README.md", README_SEARCH, README_MATCHED, README_TOP),
        ("docs/ranking.md", README_SEARCH, README_MATCHED, README_TOP),
        ("docs/ranking.md", VACANT_SEARCH, VACANT_MATCHED, VACANT_TOP),
    ],
)
def test_the_documents_show_the_searches_checked_here(
    doc: str, search: str, matched: int, top: list[str]
) -> None:
    """The text shows the very request the tests above send, and the answer they get."""
    text = (PROJECT_DIR / doc).read_text(encoding="utf-8")
    assert f"localhost:8000{search}" in text
    assert f"numberMatched {matched}" in text
    assert all(parcel in text for parcel in top), [p for p in top if p not in text]


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
    assert answer["status"] == "no_data"
    # an Essonne EPCI none of whose 21 communes is in the demo's consumption file
    essonne = demo_client.get("/trajectories/epci/200057859").json()
    assert essonne["communes_without_data"] == essonne["communes"] > 0
    assert essonne["status"] == "no_data"
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


def test_counts_are_exact(demo_client: TestClient) -> None:
    """23,872 parcels: every paged answer says numberMatched exactly (the unfiltered ones
    from the counts the cadastre loader keeps, geo.db.count), links the next page, and
    never says anything in its place."""
    for path in ("/parcels/search", "/collections/parcels/items", "/parcels"):
        answer = demo_client.get(path, params={"limit": 3}).json()
        expected = 23_872 if path != "/parcels/search" else answer["numberMatched"]
        assert answer["numberMatched"] == expected > 10_000, path
        assert "numberMatchedMoreThan" not in answer, path
        assert "next" in {link["rel"] for link in answer["links"]}, path
    communes = demo_client.get("/collections/communes/items", params={"limit": 1}).json()
    assert communes["numberMatched"] == 35_014
    deep = demo_client.get("/parcels", params={"limit": 10, "offset": 23_860}).json()
    assert deep["numberMatched"] == 23_872 and deep["numberReturned"] == 10
    assert "next" in {link["rel"] for link in deep["links"]}
    last = demo_client.get("/parcels", params={"limit": 10, "offset": 23_865}).json()
    assert last["numberMatched"] == 23_872 and last["numberReturned"] == 7
    assert "next" not in {link["rel"] for link in last["links"]}
    export = demo_client.get("/parcels/search", params={"format": "geojson"}).json()
    assert export["numberMatched"] == len(export["features"]) == 23_872


def test_a_count_past_its_budget_is_left_out(base_settings: Settings, demo_url: str) -> None:
    """With a 1 ms budget, counting the parcels a wide box holds is cancelled: the answer
    leaves numberMatched out (no other member), still links its next page; the unfiltered
    count, kept by the loader, is still given."""
    from app.api.main import create_app

    app = create_app(
        base_settings.model_copy(update={"database_url": demo_url, "count_budget_ms": 1})
    )
    with TestClient(app) as client:
        box = {"bbox": "1.0,48.0,3.0,49.5", "limit": 5}
        for path in ("/parcels", "/collections/parcels/items"):
            answer = client.get(path, params=box).json()
            assert answer["numberReturned"] == 5, path
            assert not {k for k in answer if k.startswith("numberMatched")}, path
            assert "next" in {link["rel"] for link in answer["links"]}, path
        whole = client.get("/collections/parcels/items", params={"limit": 1}).json()
        assert whole["numberMatched"] == 23_872
    app.state.engine.dispose()


def test_count_within_its_budget(demo_url: str) -> None:
    """geo.db.count: a count that outlasts its budget is cancelled and reported as not
    exact (a lower bound up to ``reach``), and the caller's statement_timeout comes back."""
    engine = engine_for(demo_url)
    with engine.connect() as conn:
        conn.execute(text("SET statement_timeout = '12s'"))
        huge = "FROM generate_series(1, 100000) a, generate_series(1, 100000) b"
        assert count_within(conn, huge, {}, 50) == Matched(0, exact=False)
        assert count_within(conn, huge, {}, 50, reach=30) == Matched(30, exact=False)
        assert count_within(conn, "FROM generate_series(1, 25) g", {}, 50) == Matched(25)
        kept = count_within(conn, huge, {}, 50, known="SELECT 7")
        assert kept == Matched(7)
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "12s"
    engine.dispose()
    exact, beyond = Matched(25), Matched(10, exact=False)
    assert exact.exceeds(24) and not exact.exceeds(25)
    assert beyond.exceeds(10) and not beyond.exceeds(11)
    assert exact.members() == {"numberMatched": 25} and beyond.members() == {}


@pytest.fixture(scope="module")
def every_feature(demo_client: TestClient) -> dict[str, list[dict]]:
    """Every feature of every collection, as its GeoJSON export writes it (the items' SQL)."""
    exported = {}
    for collection in COLLECTIONS:
        response = demo_client.get(f"/collections/{collection}/items", params={"format": "geojson"})
        assert response.status_code == 200, (collection, response.text[:300])
        exported[collection] = json.loads(response.content)["features"]
    return exported


def _polygons(geometry: dict | None) -> list[list]:
    if geometry is None:
        return []
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return geometry["coordinates"]
    return []


def _misoriented(features: list[dict]) -> list[tuple[str, str]]:
    """(feature id, ring) of every ring against RFC 7946 §3.1.6: outer rings
    counter-clockwise, holes clockwise. A ring that the 6 decimals flattened (a sliver of
    a few square centimetres) has no orientation left."""
    wrong = []
    for feature in features:
        for outer, *holes in _polygons(feature["geometry"]):
            if _signed_area(outer) < 0:
                wrong.append((feature["id"], "outer"))
            wrong += [(feature["id"], "hole") for hole in holes if _signed_area(hole) > 0]
    return wrong


def _signed_area(ring: list[list[float]]) -> float:
    """Twice the signed area of a closed ring (shoelace): positive when counter-clockwise."""
    xy = np.asarray(ring)
    return float(np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]))


def test_every_ring_follows_the_right_hand_rule(
    demo_client: TestClient, every_feature: dict[str, list[dict]]
) -> None:
    """Every polygon Foncier writes, in every collection (items and exports), the candidate
    sites and their GeoJSON export: outer rings counter-clockwise, holes clockwise."""
    polygons = 0
    for collection, features in every_feature.items():
        page = demo_client.get(f"/collections/{collection}/items", params={"limit": 1000})
        for written in (features, page.json()["features"]):
            assert _misoriented(written) == [], collection
        polygons += sum(len(_polygons(f["geometry"])) for f in features)
    assert polygons > 24_000
    sites = {"epci": MGP, "min_area": 2, "limit": 20}
    answer = demo_client.get("/sites/search", params=sites).json()
    exported = demo_client.get("/sites/search", params={**sites, "format": "geojson"})
    for written in (answer["features"], json.loads(exported.content)["features"]):
        assert written and _misoriented(written) == []
    parcels = demo_client.get(README_SEARCH).json()["features"]
    assert parcels and _misoriented(parcels) == []


def test_every_feature_lies_within_the_advertised_extents(
    demo_client: TestClient, every_feature: dict[str, list[dict]]
) -> None:
    """A collection's extent and its TileJSON bounds hold every coordinate of every one of
    its features (the box of the transformed geometries, not of a Lambert-93 box's four
    corners, whose top edge bulges north)."""
    checked = 0
    for collection, features in every_feature.items():
        shapes = [shapely.geometry.shape(f["geometry"]) for f in features if f["geometry"]]
        if not shapes:
            continue
        coordinates = shapely.get_coordinates(shapes)
        lowest, highest = coordinates.min(axis=0), coordinates.max(axis=0)
        described = demo_client.get(f"/collections/{collection}").json()
        tilejson = demo_client.get(f"/tiles/{collection}/tilejson.json").json()
        for x0, y0, x1, y1 in (described["extent"]["spatial"]["bbox"][0], tilejson["bounds"]):
            assert x0 <= lowest[0] and y0 <= lowest[1], collection
            assert x1 >= highest[0] and y1 >= highest[1], collection
            # and tight: within 0.001° of the features
            assert max(lowest[0] - x0, lowest[1] - y0) < 1e-3, collection
            assert max(x1 - highest[0], y1 - highest[1]) < 1e-3, collection
        checked += 1
    assert checked >= 6


def _parcel_number(parcel_id: str) -> int:
    """The tiles' numeric id of a parcel, computed here independently of the SQL."""
    base36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    commune = (int(parcel_id[0]) * 12 + "0123456789AB".index(parcel_id[1])) * 1000 + int(
        parcel_id[2:5]
    )
    section = base36.index(parcel_id[8]) * 36 + base36.index(parcel_id[9])
    return ((commune * 1000 + int(parcel_id[5:8])) * 1296 + section) * 10_000 + int(parcel_id[10:])


def test_tiles_carry_numeric_ids_and_what_a_styled_map_needs(demo_client: TestClient) -> None:
    """MVT features have a numeric id (one to one with the parcel id, which stays the "id"
    property), and parcels carry score, exclusion, land use and zoning as their items do;
    the TileJSON describes every field."""
    import mapbox_vector_tile

    tile = demo_client.get("/tiles/parcels/14/8241/5609.mvt")
    features = mapbox_vector_tile.decode(tile.content)["parcels"]["features"]
    assert len(features) > 100
    ids = [f["id"] for f in features]
    assert ids == [_parcel_number(f["properties"]["id"]) for f in features]
    assert len(set(ids)) == len(ids) and max(ids) < 2**53
    keys = ("score", "excluded", "land_use", "zoning")
    for feature in features[:40]:
        item = demo_client.get(f"/collections/parcels/items/{feature['properties']['id']}")
        expected = {k: v for k, v in item.json()["properties"].items() if k in keys}
        drawn = {k: feature["properties"].get(k) for k in keys}
        assert drawn == pytest.approx(expected), feature["properties"]["id"]
    assert {f["properties"].get("land_use") for f in features} >= {"vacant", "built"}
    communes = demo_client.get("/tiles/communes/8/129/88.mvt")
    for feature in mapbox_vector_tile.decode(communes.content)["communes"]["features"]:
        code = feature["properties"]["id"]
        assert feature["id"] == _parcel_number(code + "000AA0000") // (1000 * 1296 * 10_000)
    layer = demo_client.get("/tiles/parcels/tilejson.json").json()["vector_layers"][0]
    assert set(layer["fields"]) == {"id", *COLLECTIONS["parcels"].tile_properties}
    assert layer["fields"]["score"].startswith("Number: ")
    assert layer["fields"]["excluded"].startswith("Boolean: ")


def test_the_eure_parcel_cites_only_what_covers_the_eure(demo_client: TestClient) -> None:
    """Issue 31's done-when check on the whole demo: the Terres-de-Bord parcel's score
    cites no source that does not cover the Eure (the demo also holds Gard and
    Charente-Maritime PLU, Ardennes friches, BASOL sites elsewhere), and its pollution being
    unknown, its remediation cost is unknown, not 0 €."""
    score = demo_client.get("/parcels/274120000A0734/score").json()
    files = {s["file"] for c in score["criteria"] for s in c["sources"]}
    assert files == {
        "cadastre-27412-parcelles-trimmed.geojson.gz",
        "cadastre-27412-batiments.geojson.gz",
    }
    assert score["remediation_cost_eur"] is None
    by_name = {c["criterion"]: c for c in score["criteria"]}
    assert by_name["zoning"]["sources"] == [] and by_name["zoning"]["no_source_reason"]
