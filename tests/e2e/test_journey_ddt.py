"""The DDT (prefecture) agent's journey in headless Chromium (web/tests/journey-ddt.spec.mjs),
in French, at 1440×900 then 390×844: an EPCI's editor drafts a project by clicking two
parcels on the map and previews it (NAF hectares, the envelope, its commune's and EPCI's
trajectories before → after) before recording it; the prefecture reads the envelope's
legal status and the 149 Territoires d'industrie by région, authorises the project (date,
act, reason, then a confirmation), reads its ledger history and sees it on the map, then
opens an EPCI's trajectory dossier and goes down to a commune. axe-core at each screen.
The basemap is a stub on loopback at 1440 px, and the host refused on the phone (the
fallback). Screenshots go to docs/page/ (1x-ddt-*.png)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from app.security.tokens import create_token
from app.settings import PROJECT_DIR
from geo.ingest.cadastre import load_cadastre
from geo.ingest.territoires import load_territoires_industrie
from tests.helpers import CADASTRE_91216, DATA, Databases, engine_for, running_server
from tests.helpers.browser import run_spec

pytestmark = pytest.mark.browser

SCREENSHOTS = PROJECT_DIR / "docs" / "page"
SPEC = "journey-ddt.spec.mjs"
# Épinay-sur-Orge, in CA Communauté Paris-Saclay: its consumption is in the demo's file, so
# the preview shows the commune's and the EPCI's statuses before and after
COMMUNE = "91216"
DRILL_EPCI = "200056232"  # CA Communauté Paris-Saclay: its communes have consumption data


@pytest.fixture(scope="module")
def ddt_db(databases: Databases, template_db: str) -> str:
    from geo.ingest.consumption import load_consumption
    from geo.scoring.refresh import refresh_scores

    url = databases.create(f"{template_db}_ddt", template=template_db)
    engine = engine_for(url)
    load_cadastre(engine, CADASTRE_91216)
    load_consumption(engine, DATA / "consommation" / "conso-naf-SYNTHETIQUE-2009-2023.csv")
    load_territoires_industrie(
        engine, DATA / "territoires-industrie" / "territoires-industrie-anct.geojson.gz"
    )
    refresh_scores(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def ddt_server(
    ddt_db: str,
    basemap_stub: tuple[str, Counter],  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    stub, _ = basemap_stub
    with running_server(
        ddt_db,
        tmp_path_factory.mktemp("ddt") / "uvicorn.log",
        FONCIER_BASEMAP_URL=f"{stub}/plan/{{z}}/{{x}}/{{y}}.png",
        FONCIER_BASEMAP_AERIAL_URL=f"{stub}/aerial/{{z}}/{{x}}/{{y}}.png",
        FONCIER_BASEMAP_ATTRIBUTION="© IGN – Géoplateforme (tuiles de test)",
    ) as base:
        yield base


def _setup(ddt_db: str) -> dict:
    """Two touching parcels of the commune (what the editor clicks), the tokens."""
    engine = engine_for(ddt_db)
    with engine.begin() as conn:
        epci, departement = conn.execute(
            text("SELECT epci_siren, departement_code FROM commune WHERE insee = :i"),
            {"i": COMMUNE},
        ).one()
        a, b, ax, ay, bx, by = conn.execute(
            text(
                """SELECT a.id, b.id, ST_X(pa), ST_Y(pa), ST_X(pb), ST_Y(pb)
                   FROM parcel a JOIN parcel b
                     ON b.commune_insee = a.commune_insee AND a.id < b.id
                    AND ST_Touches(a.geom, b.geom),
                   ST_Transform(ST_PointOnSurface(a.geom), 4326) pa,
                   ST_Transform(ST_PointOnSurface(b.geom), 4326) pb
                   WHERE a.commune_insee = :i
                     AND a.area_m2 BETWEEN 1500 AND 10000 AND b.area_m2 BETWEEN 1500 AND 10000
                   ORDER BY a.id, b.id LIMIT 1"""
            ),
            {"i": COMMUNE},
        ).one()
        _, editor = create_token(
            conn, name="SIG de l'EPCI", role="epci_editor", territory=f"epci:{epci}",
            created_by="test",
        )  # fmt: skip
        _, prefecture = create_token(
            conn, name="DDT de l'Essonne", role="prefecture",
            territory=f"departement:{departement}", created_by="test",
        )  # fmt: skip
    engine.dispose()
    return {
        "epci": epci,
        "parcels": [{"id": a, "lonlat": [ax, ay]}, {"id": b, "lonlat": [bx, by]}],
        "editorToken": editor,
        "prefectureToken": prefecture,
        "drillEpci": DRILL_EPCI,
    }


def test_the_ddt_journey_in_headless_chromium(
    ddt_server: str,
    ddt_db: str,
    basemap_stub: tuple[str, Counter],  # noqa: F811
) -> None:
    setup = _setup(ddt_db)
    stub, _ = basemap_stub
    result = run_spec(
        SPEC,
        {"baseUrl": ddt_server, "outDir": str(SCREENSHOTS), "stubOrigin": stub} | setup,
        timeout=400,
    )

    # the draft: two parcels clicked on the map, previewed as the API computes it
    assert result["draft"]["parcels"] == sorted(p["id"] for p in setup["parcels"])
    body = {"name": "Usine de la journée DDT", "epci_siren": setup["epci"],
            "parcel_ids": result["draft"]["parcels"]}  # fmt: skip
    editor = {"Authorization": f"Bearer {setup['editorToken']}"}
    project = httpx.get(f"{ddt_server}/projects/{result['projectId']}", headers=editor).json()
    assert project["parcel_ids"] == body["parcel_ids"]
    assert float(result["draft"]["naf"]) == pytest.approx(project["naf_ha"], abs=1e-4)
    assert [t["level"] for t in result["draft"]["trajectories"]] == ["commune", "epci"]
    assert "→" in result["draft"]["text"] and "NAF" in result["draft"]["text"]
    # buttons by role: the editor may not authorise, the prefecture may; nobody may record
    # a project without a token
    assert result["editorButtons"] == ["Abandonner", "Historique"]
    assert "Autoriser" in result["prefectureButtons"]
    assert result["draftShown"] == {"public": False, "editor": True, "prefecture": False}

    # the envelope: its legal status stated, the 149 Territoires d'industrie by région
    assert "Pas en vigueur" in result["legal"] and "projet de loi" in result["legal"]
    assert result["tiCount"] == "149" and result["tiRows"] == 149
    assert result["regions"] >= 13

    # the authorisation: date, act, reason, a confirmation; the ledger history says them
    assert "arrêté préfectoral n° 2026-042" in result["confirmation"]
    assert result["projectStatus"] == "authorised"
    assert "arrêté préfectoral n° 2026-042 : dossier complet" in result["history"]
    assert float(result["gauge"]["after"]) == pytest.approx(
        float(result["gauge"]["before"]) + project["naf_ha"], abs=1e-3
    )
    assert result["projectsDrawn"] > 0

    # the trajectory dossier, from the département down to an EPCI, then a commune
    epci = result["dossierEpci"]
    assert "Consommation de référence 2011-2020" in epci and "Fixé par" in epci
    assert "données synthétiques" in epci.lower() and "Communes membres" in epci
    assert "conso-naf-SYNTHETIQUE-2009-2023.csv" in epci
    commune = result["dossierCommune"]
    assert "Remonter" in commune and "hérité" in commune
    assert result["phone"]["overflow"] is False
    assert result["phone"]["fallback"].startswith("Fond de carte IGN injoignable")
    for check, found in result["axe"].items():
        assert found["violations"] == [], (check, found)
    for name in result["screenshots"]:
        assert (SCREENSHOTS / name).stat().st_size > 10_000
