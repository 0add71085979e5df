"""The place search behind the page's search box (GET /places), on the real administrative
reference (every French commune, EPCI, département and région)."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.helpers import engine_for


def test_paray_finds_paray_vieille_poste(api_client: TestClient) -> None:
    response = api_client.get("/places", params={"q": "paray"})
    assert response.status_code == 200
    places = response.json()
    # names starting with "Paray" first, larger first (Paray-le-Monial has a few hundred
    # more inhabitants), then a word starting with it (Saint-Léger-lès-Paray)
    names = [p["name"] for p in places]
    assert names[:2] == ["Paray-le-Monial", "Paray-Vieille-Poste"]
    assert all(n.startswith("Paray") for n in names[:-1]) and names[-1].endswith("-Paray")
    paray = places[1]
    assert paray["level"] == "commune" and paray["code"] == "91479"
    min_lon, min_lat, max_lon, max_lat = paray["bbox"]  # the Essonne boundaries are loaded
    assert 2.3 < min_lon < max_lon < 2.5 and 48.6 < min_lat < max_lat < 48.8


def test_accents_case_and_hyphens_do_not_matter(api_client: TestClient) -> None:
    for q in ("EPINAY-SUR-ORGE", "épinay sur orge", "Epinay sur Orge"):
        first = api_client.get("/places", params={"q": q}).json()[0]
        assert (first["level"], first["code"], first["name"]) == (
            "commune",
            "91216",
            "Épinay-sur-Orge",
        ), q


def test_every_level_is_found(api_client: TestClient) -> None:
    levels = {
        q: {(p["level"], p["name"]) for p in api_client.get("/places", params={"q": q}).json()}
        for q in ("essonne", "ile de france", "paris saclay", "91")
    }
    assert ("departement", "Essonne") in levels["essonne"]
    assert ("region", "Île-de-France") in levels["ile de france"]
    assert any(level == "epci" and "Paris-Saclay" in name for level, name in levels["paris saclay"])
    assert ("departement", "Essonne") in levels["91"]  # by code


def test_territoires_d_industrie_are_found(fresh_engine, base_settings) -> None:
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO territoire_industrie (id, name, region_code) "
                "VALUES ('TI-TEST', 'Vallée de la Seine (synthétique)', '11')"
            )
        )
    from app.services.places import search_places

    with fresh_engine.connect() as conn:
        found = search_places(conn, "vallee de la SEINE")
    assert found[0]["level"] == "territoire_industrie" and found[0]["code"] == "TI-TEST"


def test_the_index_answers_in_milliseconds(demo_db_url: str) -> None:
    engine = engine_for(demo_db_url)
    with engine.connect() as conn:
        plan = "\n".join(
            conn.execute(
                text("EXPLAIN SELECT insee FROM commune WHERE name_folded LIKE '%paray%'")
            ).scalars()
        )
        from app.services.places import search_places

        search_places(conn, "paray")  # warm
        timings = {}
        for q in ("paray", "saint"):  # 6 and 4,443 communes match
            started = time.perf_counter()
            for _ in range(10):
                search_places(conn, q)
            timings[q] = (time.perf_counter() - started) / 10
    engine.dispose()
    assert "commune_name_fold_idx" in plan
    # generous bounds for a shared machine (bench/places.py measures: ~3 and ~15 ms)
    assert timings["paray"] < 0.03 and timings["saint"] < 0.1, timings


def test_bad_queries_are_problems(api_client: TestClient) -> None:
    for params in ({"q": "a"}, {"q": "x" * 81}, {"q": "abc", "limit": 0}, {}):
        response = api_client.get("/places", params=params)
        assert response.status_code == 422, params  # outside the schema
        assert response.headers["content-type"].startswith("application/problem+json")
    for params in ({"q": "le"}, {"q": "--"}, {"q": "\u0090\u0010"}):
        response = api_client.get("/places", params=params)
        assert response.status_code == 400, params  # schema-valid, names nothing
        assert response.headers["content-type"].startswith("application/problem+json")
    assert api_client.get("/places", params={"q": "%_\\%"}).status_code in (200, 400)
    assert api_client.get("/places", params={"q": "zzqqxxyy"}).json() == []


def test_page_config_offers_every_search_filter_of_the_api(api_client: TestClient) -> None:
    """Filters come from the OpenAPI document: one added to /parcels/search (land_use,
    owner…) becomes a field of the page's form with no change to the page."""
    config = api_client.get("/page/config").json()
    operation = api_client.get("/openapi.json").json()["paths"]["/parcels/search"]["get"]
    from app.api.routers.home import _PAGE_OWN_PARAMETERS

    expected = [p["name"] for p in operation["parameters"] if p["name"] not in _PAGE_OWN_PARAMETERS]
    assert [f["name"] for f in config["search_filters"]] == expected
    assert {"min_area", "max_area", "zoning", "on_friche", "min_score"} <= set(expected)
    # not a filter: the map draws WGS84 whatever the form says
    assert "crs" not in [f["name"] for f in config["search_filters"]]
    zoning = next(f for f in config["search_filters"] if f["name"] == "zoning")
    assert zoning["type"] == "enum" and "activity" in zoning["enum"]
    assert config["default_profile"] in {p["id"] for p in config["profiles"]}


def test_basemap_setting(base_settings, demo_db_url: str) -> None:
    """Plan IGN by default (the Géoplateforme's public WMTS, aerial imagery offered), a
    URL of one's own, or none; the bloc-marque only for a State deployment."""
    import pytest
    from pydantic import ValidationError

    from app.api.main import create_app
    from app.settings import IGN_ATTRIBUTION, ORTHOPHOTOS_URL, PLAN_IGN_URL, Settings

    default = Settings(database_url=demo_db_url)
    assert (default.basemap_kind, default.basemap_url) == ("raster", PLAN_IGN_URL)
    assert "LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2" in PLAN_IGN_URL
    assert "LAYER=ORTHOIMAGERY.ORTHOPHOTOS" in default.basemap_aerial_url == ORTHOPHOTOS_URL
    assert "IGN" in default.basemap_attribution == IGN_ATTRIBUTION
    assert default.state_deployment is False

    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    configs = []
    for update in (
        {"basemap_url": url, "basemap_attribution": "© moi", "basemap_aerial_url": ""},
        {"basemap_kind": "none", "state_deployment": True},
    ):
        settings = base_settings.model_copy(update={"database_url": demo_db_url, **update})
        app = create_app(settings)
        with TestClient(app) as client:
            configs.append(client.get("/page/config").json())
        app.state.engine.dispose()
    own, none = configs
    assert own["basemap"] == {
        "kind": "raster", "url": url, "attribution": "© moi", "aerial_url": None
    }  # fmt: skip
    assert own["state_deployment"] is False
    assert none["basemap"] is None and none["state_deployment"] is True
    with pytest.raises(ValidationError):
        Settings(basemap_kind="raster", basemap_url=None)  # a kind without its URL


def test_me_says_who_the_token_is(api_client: TestClient) -> None:
    assert api_client.get("/me").status_code == 401
    assert api_client.get("/me", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_sources_name_the_files_loaded(api_client: TestClient) -> None:
    """What the dossier cites for each criterion: the last import of each kind."""
    found = {s["kind"]: s for s in api_client.get("/sources").json()["imports"]}
    assert found["cadastre"]["file"] == "cadastre-91216-parcelles.json"
    assert found["admin"]["file"] == "communes.json"
    assert "/" not in found["cadastre"]["file"]  # no server path
    assert found["cadastre"]["loaded_at"][:4] >= "2026"
