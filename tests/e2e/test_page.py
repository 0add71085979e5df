"""The page as a tool, in headless Chromium (web/tests/tool.spec.mjs): find a place, search
an EPCI's parcels, open a dossier, export a GeoPackage read back by GDAL, search sites,
authorise a project from the prefecture's dashboard; a phone-sized view; axe-core. Its
basemap (web/tests/basemap.spec.mjs): a stub tile server on loopback drawn, then the host
refused and the fallback said and drawn. The suite never reaches the internet.

Its own database (the flow writes: a token, a project, its authorisation), built like
the scored demo. Screenshots of each step go to tests/output/ (shown in docs/maps-ogc.md)."""

from __future__ import annotations

from collections import Counter

import httpx
import pyogrio
import pytest
from sqlalchemy import text

from app.security.tokens import create_token
from app.settings import PROJECT_DIR
from tests.helpers import DEMO_COMMUNE, engine_for
from tests.helpers.browser import run_spec

pytestmark = pytest.mark.browser

OUTPUT = PROJECT_DIR / "tests" / "output"
SPEC = "tool.spec.mjs"
PLACE_QUERY, PLACE_NAME = "paray", "Paray-Vieille-Poste"


def _setup_ledger(page_db: str, base: str) -> dict:
    """An EPCI editor records a planned project on the EPCI's best parcel; the prefecture
    of its département gets a token (the page then authorises the project)."""
    engine = engine_for(page_db)
    with engine.begin() as conn:
        epci, epci_name, departement = conn.execute(
            text(
                "SELECT c.epci_siren, e.name, c.departement_code FROM commune c "
                "JOIN epci e ON e.siren = c.epci_siren WHERE c.insee = :insee"
            ),
            {"insee": DEMO_COMMUNE},
        ).one()
        parcel = conn.execute(
            text(
                "SELECT parcel_id FROM parcel_score WHERE commune_insee = :insee "
                "AND profile = 'small-industry' AND NOT excluded ORDER BY score DESC LIMIT 1"
            ),
            {"insee": DEMO_COMMUNE},
        ).scalar_one()
        _, editor = create_token(
            conn, name="SIG", role="epci_editor", territory=f"epci:{epci}", created_by="test"
        )
        _, prefecture = create_token(
            conn,
            name="Préfecture",
            role="prefecture",
            territory=f"departement:{departement}",
            created_by="test",
        )
    engine.dispose()
    project = httpx.post(
        f"{base}/projects",
        json={"name": "Usine de test", "epci_siren": epci, "parcel_ids": [parcel]},
        headers={"Authorization": f"Bearer {editor}"},
    )
    assert project.status_code == 201, project.text
    return {
        "epciName": epci_name,
        "prefectureToken": prefecture,
        "projectId": project.json()["id"],
        "naf_ha": project.json()["naf_ha"],
    }


def test_the_page_as_a_tool_in_headless_chromium(page_server: str, page_db: str) -> None:
    if not (PROJECT_DIR / "web" / "node_modules" / "axe-core").is_dir():
        pytest.fail("playwright-core and axe-core are missing: npm ci --prefix web")
    ledger = _setup_ledger(page_db, page_server)
    OUTPUT.mkdir(exist_ok=True)
    for old in OUTPUT.glob("0*.png"):
        old.unlink()
    args = {
        "baseUrl": page_server,
        "outDir": str(OUTPUT),
        "placeQuery": PLACE_QUERY,
        "placeName": PLACE_NAME,
        # what a user types to find the EPCI: its name's first words, without accents
        "epciQuery": " ".join(ledger["epciName"].split()[-2:])[:12],
        "epciName": ledger["epciName"],
        "profile": "logistics",
        "minArea": 0.5,
        "siteArea": 10,
        "prefectureToken": ledger["prefectureToken"],
        "projectId": ledger["projectId"],
    }
    result = run_spec(SPEC, args)

    assert result["landmarks"] == {"search": True, "main": True, "nav": True}
    assert any(s.startswith(PLACE_NAME) for s in result["suggestions"])
    lon, lat = result["placeCentre"]
    assert 2.34 < lon < 2.38 and 48.70 < lat < 48.75  # framed on Paray-Vieille-Poste

    # the search, as the API answers it
    engine = engine_for(page_db)
    with engine.connect() as conn:
        epci = conn.execute(
            text("SELECT epci_siren FROM commune WHERE insee = :i"), {"i": DEMO_COMMUNE}
        ).scalar_one()
    engine.dispose()
    api = httpx.get(
        f"{page_server}/parcels/search",
        params={"epci": epci, "profile": "logistics", "min_area": 0.5, "limit": 20},
    ).json()
    assert result["numberMatched"] == api["numberMatched"] > 20
    assert result["rows"] == 20
    assert " ".join(result["moreThan"].split()) == "plus de 10 000"  # fr-FR: a narrow space
    assert result["sortedByArea"]
    assert result["dossier"]["id"] == api["features"][0]["id"]
    assert result["dossier"]["criteria"] == len(api["features"][0]["properties"]["criteria"])
    assert result["sharedSummary"].startswith(f"{api['numberMatched']} parcelle")

    # the GeoPackage the page's button downloaded, read back by GDAL
    info = pyogrio.read_info(result["gpkg"])
    assert info["features"] == api["numberMatched"]
    assert info["crs"] == "EPSG:2154"  # Lambert-93, the default of a GeoPackage

    assert result["weights"]["slope"] == 2 and "rail_siding" not in result["weights"]
    assert result["sites"] >= 1 and result["sitesDrawn"] == result["sites"]

    # the gauge moved by the project's NAF hectares, reserved when authorised
    gauge = result["gauge"]
    assert float(gauge["after"]["reserved"]) == pytest.approx(
        float(gauge["before"]["reserved"]) + ledger["naf_ha"], abs=1e-3
    )
    assert gauge["after"]["width"] != gauge["before"]["width"]
    assert result["projectStatus"] == "authorised"
    assert "Conflit avec l'état actuel" in result["refusal"]  # the problem's code, in French

    assert result["phoneOverflow"] is False
    for check in ("axeResults", "axeDossier", "axeDashboard", "axePhone"):
        assert result[check]["serious"] == 0, result[check]
    for name in ("01-place-search", "02-parcel-results", "03-parcel-dossier", "04-sites",
                 "05-dashboard", "05-dashboard-projects", "05-dashboard-trajectory",
                 "06-phone"):  # fmt: skip
        assert (OUTPUT / f"{name}.png").stat().st_size > 10_000


def test_the_basemap_drawn_or_said_unreachable(
    page_server: str, page_db: str, basemap_stub: tuple[str, Counter]
) -> None:
    stub, served = basemap_stub
    engine = engine_for(page_db)
    with engine.connect() as conn:
        parcel, lon, lat = conn.execute(
            text(
                "SELECT id, ST_X(c), ST_Y(c) FROM parcel, ST_Transform(ST_Centroid(geom), 4326) c "
                "WHERE commune_insee = :insee ORDER BY abs(area_m2 - 5000), id LIMIT 1"
            ),
            {"insee": DEMO_COMMUNE},
        ).one()
    engine.dispose()
    OUTPUT.mkdir(exist_ok=True)
    before = dict(served)
    result = run_spec(
        "basemap.spec.mjs",
        {
            "baseUrl": page_server,
            "outDir": str(OUTPUT),
            "stubOrigin": stub,
            "placeQuery": PLACE_QUERY,
            "placeName": PLACE_NAME,
            "parcelId": parcel,
        },
    )
    # the stub's tiles drawn, its attribution shown, the aerial imagery chosen
    assert served["plan"] > before.get("plan", 0) and served["aerial"] > before.get("aerial", 0)
    assert result["stub"]["notice"] is False and result["stub"]["switchShown"] is True
    assert "IGN" in result["stub"]["attribution"]
    assert result["aerial"] == "none"  # the plan hidden under the aerial imagery
    assert result["stub"]["blocMarque"] is False  # not a State deployment
    assert result["stub"]["developerLinks"] == [
        "/docs", "/collections", "/tiles/parcels/tilejson.json"
    ]  # fmt: skip
    # the chosen territory outlined and framed, basemap or not
    assert result["stub"]["territory"] > 0 and result["fallback"]["territory"] > 0
    lon_c, lat_c = result["stub"]["centre"]
    assert 2.34 < lon_c < 2.38 and 48.70 < lat_c < 48.75
    # the host refused: said in French, the communes' outlines drawn on opaque paper
    fallback = result["fallback"]
    assert fallback["notice"].startswith("Fond de carte IGN injoignable")
    assert fallback["state"] == "unreachable"
    assert fallback["communes"] > 0 and fallback["paper"] == 1
    assert "données synthétiques" in result["synthetic"]
    assert "la consommation d'espaces" in result["synthetic"]
    # a parcel's dossier zooms to it
    assert result["parcel"]["zoom"] >= 15
    assert abs(result["parcel"]["centre"][0] - lon) < 0.01
    assert abs(result["parcel"]["centre"][1] - lat) < 0.01
    assert result["phoneOverflow"] is False
    for check in ("axeFallback", "axePhone"):
        assert result[check]["serious"] == 0, result[check]
    # the dossier in French: no criterion defined in English
    text_ = result["dossierText"]
    assert "Critères" in text_ and "surface (méthode Mutafriches" in text_
    for english in ("site area", "mean slope", "unknown where", "no layer loaded", "updated up to"):
        assert english not in text_
    for name in ("07-basemap-stub", "08-basemap-unreachable", "09-dossier-1440",
                 "10-phone-unreachable"):  # fmt: skip
        assert (OUTPUT / f"{name}.png").stat().st_size > 10_000


def test_the_page_says_what_it_does_not_know(page_server: str, page_db: str) -> None:
    """The synthetic consumption file is said from the first screen; the risk-plan and
    NAF-land filters are French checkboxes; an empty search says why, in French."""
    engine = engine_for(page_db)
    with engine.connect() as conn:
        epci = conn.execute(
            text("SELECT epci_siren FROM commune WHERE insee = :i"), {"i": DEMO_COMMUNE}
        ).scalar_one()
    engine.dispose()
    result = run_spec("truth.spec.mjs", {"baseUrl": page_server, "epci": epci})
    assert "consommation d'espaces NAF" in result["notice"]
    assert "synthétiques" in result["notice"]
    assert "zones d'interdiction" in result["risk"] and "zones de prescription" in result["risk"]
    assert "friche ou terrain déjà artificialisé" in result["landCover"]
    assert result["checkboxes"] == 4
    assert "bâtiments" in result["summary"] and "occupation du sol" in result["summary"]
