"""The journey of a developer of a map front-end, played in headless Chromium
(web/tests/journey-dev.spec.mjs): from the page's links "Pour les développeurs", the API
documentation (/docs, Swagger UI), the OGC collections in HTML and the parcels' TileJSON;
then the developer's own MapLibre map, on another origin, draws Foncier's parcels from that
TileJSON (tiles answered with CORS). At 1440×900 with the stub basemap, then on a 390×844
phone with the basemap host refused (the fallback said). axe-core on Foncier's screens (the
page, the OGC HTML); /docs is the vendored Swagger UI, third-party: loaded without error,
not audited. Screenshots go to docs/page/ (dev-*.png).

The page's server, database and stub basemap are tests/e2e/conftest.py's."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import text

from app.settings import PROJECT_DIR
from tests.helpers import DEMO_COMMUNE, engine_for
from tests.helpers.browser import run_spec

pytestmark = pytest.mark.browser

SPEC = "journey-dev.spec.mjs"
SCREENSHOTS = PROJECT_DIR / "docs" / "page"
LINKS = ["/docs", "/collections", "/tiles/parcels/tilejson.json"]


def test_the_developer_journey_in_headless_chromium(
    page_server: str,  # noqa: F811
    page_db: str,  # noqa: F811
    basemap_stub: tuple[str, Counter],  # noqa: F811
) -> None:
    engine = engine_for(page_db)
    with engine.connect() as conn:
        # where the developer's map is centred: among the demo commune's parcels
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(c), ST_Y(c) FROM parcel, ST_Transform(ST_Centroid(geom), 4326) c "
                "WHERE commune_insee = :insee ORDER BY abs(area_m2 - 5000), id LIMIT 1"
            ),
            {"insee": DEMO_COMMUNE},
        ).one()
    engine.dispose()
    stub, _ = basemap_stub
    args = {"baseUrl": page_server, "outDir": str(SCREENSHOTS), "stubOrigin": stub,
            "lon": lon, "lat": lat}  # fmt: skip
    result = run_spec(SPEC, args)

    for seen in (result, result["phone"]):
        # the three links, in French
        assert [link["href"] for link in seen["links"]] == LINKS
        assert all(link["text"] and "API" in seen["links"][0]["text"] for link in seen["links"])
        # /docs: Swagger UI, every operation listed, the page said French
        assert seen["docs"]["lang"] == "fr" and seen["docs"]["operations"] > 20
        assert "Foncier" in seen["docs"]["info"]
        assert "réindustrialisation" in seen["docs"]["description"]
        # the collections in HTML, the parcels among them
        collections = seen["collections"]
        assert collections["contentType"] == "text/html" and collections["lang"] == "fr"
        assert "parcels" in collections["text"]
        assert any("/collections/parcels/items" in href for href in collections["links"])
        # the TileJSON: tiles under Foncier's origin, the parcels' vector layer
        tilejson = seen["tilejson"]
        assert tilejson["tiles"][0].startswith(page_server)
        assert "{z}/{x}/{y}" in tilejson["tiles"][0]
        assert "parcels" in tilejson["vectorLayers"]
        assert tilejson["attribution"].startswith("Foncier ; données : Etalab")
        # the developer's own map, on another origin, draws the parcels (a tile without
        # parcels is a 204)
        other = seen["otherOrigin"]
        assert other["count"] > 0
        assert other["tiles"] and all(t["status"] in (200, 204) for t in other["tiles"])
        assert all(t["allow"] in ("*", result["site"]) for t in other["tiles"])
    assert result["phone"]["fallback"].startswith("Fond de carte IGN injoignable")
    assert result["phone"]["overflow"] is False
    for check, found in result["axe"].items():
        assert found["violations"] == [], (check, found)
    assert set(result["axe"]) == {"page-1440", "collections-1440", "page-390", "collections-390"}
    for name in result["screenshots"]:
        assert (SCREENSHOTS / name).stat().st_size > 10_000
