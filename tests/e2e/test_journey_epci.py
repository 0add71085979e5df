"""The journey of a chargé de mission at an EPCI, played in headless Chromium
(web/tests/journey-epci.spec.mjs): find the EPCI, search its land, read the results (commune
name, land use, owner, NAF impact), compare three parcels, print a dossier with its
situation map, log in with a token, save the search with every kind of filter, see the
alerts of an older saved search and open it again; then on a 390×844 phone with the
basemap host refused. axe-core reports no violation; the first results appear within a
second; the screenshots go to docs/page/ (epci-*.png).

The page's server, database and stub basemap are tests/e2e/conftest.py's."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.security.tokens import create_token
from app.settings import PROJECT_DIR
from geo.scoring.watch import rerun
from tests.helpers import DEMO_COMMUNE, engine_for
from tests.helpers.browser import run_spec

pytestmark = pytest.mark.browser

SPEC = "journey-epci.spec.mjs"
SCREENSHOTS = PROJECT_DIR / "docs" / "page"
OLDER, SAVED = "Veille foncière Paray", "Terrains vacants de l'EPCI"


def _older_search_with_alerts(db_url: str, base: str, token: str) -> int:
    """A search saved earlier, whose re-run after an import found two new parcels: two
    alerts (the matches it had stored are removed, as if the parcels had just appeared)."""
    auth = {"Authorization": f"Bearer {token}"}
    saved = httpx.post(
        f"{base}/saved-searches",
        json={"name": OLDER, "kind": "parcels", "query": {"commune": DEMO_COMMUNE, "min_area": 1}},
        headers=auth,
    )
    assert saved.status_code == 201, saved.text
    engine = engine_for(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM saved_search_match WHERE saved_search_id = :id AND item_id IN "
                "(SELECT item_id FROM saved_search_match WHERE saved_search_id = :id "
                "ORDER BY item_id LIMIT 2)"
            ),
            {"id": saved.json()["id"]},
        )
    alerts, problems = rerun(engine, None, "import du cadastre (test)")
    engine.dispose()
    assert problems == [] and len(alerts) == 2
    return saved.json()["id"]


def _pages(pdf: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))


def test_the_epci_journey_in_headless_chromium(
    tmp_path: Path,
    page_server: str,  # noqa: F811
    page_db: str,  # noqa: F811
    basemap_stub: tuple[str, Counter],  # noqa: F811
) -> None:
    engine = engine_for(page_db)
    with engine.begin() as conn:
        epci, epci_name = conn.execute(
            text(
                "SELECT c.epci_siren, e.name FROM commune c JOIN epci e ON e.siren = c.epci_siren "
                "WHERE c.insee = :insee"
            ),
            {"insee": DEMO_COMMUNE},
        ).one()
        _, token = create_token(
            conn, name="Chargée de mission", role="epci_editor", territory=f"epci:{epci}",
            created_by="test",
        )  # fmt: skip
    engine.dispose()
    _older_search_with_alerts(page_db, page_server, token)
    stub, _ = basemap_stub
    args = {
        "baseUrl": page_server,
        "outDir": str(SCREENSHOTS),
        "pdfDir": str(tmp_path),
        "stubOrigin": stub,
        "epciQuery": " ".join(epci_name.split()[-2:])[:12],
        "epciName": epci_name,
        "minArea": 0.5,
        "siteArea": 5,
        "token": token,
        "olderSearch": OLDER,
        "saveName": SAVED,
    }
    result = run_spec(SPEC, args)

    # the results: commune names, land use, owner, NAF; every column reachable
    assert result["columns"][1:] == [
        "parcelle", "commune", "surface (ha)", "score ▼", "fiabilité", "occupation",
        "propriétaire", "NAF (ha)", "zonage", "friche",
    ]  # fmt: skip
    assert result["firstRow"][2] == "Paray-Vieille-Poste"  # the commune's name, not its code
    assert result["desktopOverflow"]["page"] is False
    assert result["desktopOverflow"]["table"] is False  # at 1440 px every column is seen
    assert result["desktopOverflow"]["tableScrolls"] is True
    assert result["basemapTiles"] > 0
    # first results within a second of the search
    assert result["firstResultsMs"] < 1000, result["firstResultsMs"]
    # the comparison: three parcels, the criteria the job needs
    assert len(result["compare"]["columns"]) == 4
    rows = ("Score", "Fiabilité", "Exclusions (contraintes)", "Impact NAF", "Propriétaire",
            "Zonage", "distance échangeur")  # fmt: skip
    for row in rows:
        assert row in result["compare"]["rows"], row
    assert result["comparePrint"] == {"dialog": "block", "main": "none"}
    # parcels and a candidate site compared together
    assert result["compareMixed"]["columns"][1:] == [*result["compare"]["columns"][1:], "Site 1"]
    assert result["compareMixed"]["siteCommune"] == "Paray-Vieille-Poste"
    # the dossier's situation map: over the stub basemap at 1440, over the commune's
    # outline when the host is refused; it fits A4
    assert result["situation"]["tiles"] > 0 and result["situation"]["paths"] == 2
    assert result["phoneSituation"]["tiles"] == 0
    assert "contour de la commune" in result["phoneSituation"]["caption"]
    assert result["dossierPrint"]["fits"] and not result["dossierPrint"]["searchShown"]
    assert 1 <= _pages(tmp_path / "dossier.pdf") <= 4  # the criteria and trajectories on A4
    assert _pages(tmp_path / "compare.pdf") == 1
    # the search saved with land_use, exclude_zoning, owner and max_built_share, as the
    # API keeps it; the older search's two alerts in the page
    saved = httpx.get(
        f"{page_server}/saved-searches", headers={"Authorization": f"Bearer {token}"}
    ).json()
    mine = next(s for s in saved if s["name"] == SAVED)
    assert mine["kind"] == "parcels"
    assert mine["query"] == {
        "epci": epci, "min_area": 0.5, "land_use": "vacant,underused",
        "exclude_zoning": "housing", "owner": "commune,epci", "max_built_share": 0.2,
    }  # fmt: skip
    assert any(SAVED in s for s in result["saved"])
    assert any(OLDER in s and "2 alertes" in s for s in result["saved"])
    assert len(result["alerts"]) == 2 and all("Nouveau" in a for a in result["alerts"])
    assert result["reopened"]["minArea"] == "1" and result["reopened"]["rows"] > 0
    # the phone: the fallback said, the map collapsed, nothing wider than the screen,
    # the tables scrolling within themselves, the sources panel reachable
    assert result["phoneNotice"].startswith("Fond de carte IGN injoignable")
    assert result["phoneMapCollapsed"] == "false"
    assert result["phoneOverflow"]["page"] is False and result["phoneOverflow"]["table"] is True
    assert result["phoneCompareOverflow"] is False and result["phoneDossierOverflow"] is False
    assert result["phoneSources"]["reachable"] and result["phoneSources"]["top"] >= 0
    assert all(count == 0 for count in result["axe"].values()), result["axe"]
    for name in ("01-results-1440", "02-compare-1440", "03-dossier-1440", "04-dossier-print",
                 "04b-compare-sites-1440",
                 "05-saved-1440", "06-phone-results", "07-phone-map-collapsed",
                 "08-phone-compare", "09-phone-dossier", "10-phone-sources"):  # fmt: skip
        assert (SCREENSHOTS / f"epci-{name}.png").stat().st_size > 10_000
