"""The OGC API documents in HTML, for a person browsing the API (as pygeoapi and tipg offer):
asked by f=html or by a browser's Accept; JSON stays the answer to every other client."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.api.main import create_app

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
PARCEL = "91216000AB0037"
PAGES = [
    "/conformance",
    "/collections",
    "/collections/parcels",
    "/collections/parcels/items?limit=3",
    f"/collections/parcels/items/{PARCEL}",
]


def hrefs(page: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', page)


@pytest.mark.parametrize("path", PAGES)
def test_a_browser_gets_a_french_page_linking_to_json(api_client: TestClient, path: str) -> None:
    for response in (
        api_client.get(path, headers={"Accept": BROWSER}),
        api_client.get(path + ("&" if "?" in path else "?") + "f=html"),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        page = response.text
        assert page.startswith("<!doctype html>") and '<html lang="fr">' in page
        assert any("f=json" in href for href in hrefs(page)), page[:500]
        assert any(href.endswith("collections?f=html") for href in hrefs(page))


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(
    "accept", ["*/*", "application/json", "application/geo+json, application/json;q=0.9", None]
)
def test_json_stays_the_answer_to_other_clients(
    api_client: TestClient, path: str, accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = api_client.get(path, headers=headers)
    assert response.status_code == 200
    assert "json" in response.headers["content-type"]
    # asked for JSON by f, a browser gets JSON
    explicit = api_client.get(
        path + ("&" if "?" in path else "?") + "f=json", headers={"Accept": BROWSER}
    )
    assert "json" in explicit.headers["content-type"]


def test_the_pages_link_to_each_other(api_client: TestClient) -> None:
    def page(path: str) -> list[str]:
        return hrefs(api_client.get(path, params={"f": "html"}).text)

    assert any(h.endswith("/collections/parcels?f=html") for h in page("/collections"))
    assert any(
        h.endswith("/collections/parcels/items?f=html") for h in page("/collections/parcels")
    )
    items = page("/collections/parcels/items")
    assert any(re.search(r"/collections/parcels/items/91216\w+\?f=html$", h) for h in items)
    # the next page stays HTML
    assert any("cursor=" in h and h.endswith("f=html") for h in items), items
    assert any(
        h.endswith("/collections/parcels/items?f=html")
        for h in page(f"/collections/parcels/items/{PARCEL}")
    )
    # the map page leads to the API's pages; the root stays the map for a browser
    root = api_client.get("/", headers={"Accept": BROWSER}).text
    assert 'href="/collections?f=html"' in root and "maplibre" in root.lower()


def test_json_answers_name_their_html_page(api_client: TestClient) -> None:
    def alternate(document: dict) -> list[str]:
        return [
            lk["href"]
            for lk in document["links"]
            if lk["rel"] == "alternate" and lk["type"] == "text/html"
        ]

    listing = api_client.get("/collections").json()
    assert alternate(listing) == ["http://testserver/collections?f=html"]
    assert alternate(listing["collections"][0])[0].endswith("?f=html")
    assert alternate(api_client.get("/collections/parcels").json()) == [
        "http://testserver/collections/parcels?f=html"
    ]
    items = api_client.get("/collections/parcels/items", params={"limit": 2}).json()
    assert alternate(items) == ["http://testserver/collections/parcels/items?limit=2&f=html"]
    one = api_client.get(f"/collections/parcels/items/{PARCEL}").json()
    assert alternate(one) == [f"http://testserver/collections/parcels/items/{PARCEL}?f=html"]


HOSTILE = "<script>alert(1)</script>\"' onmouseover=x &amp;"


@pytest.fixture
def hostile_client(fresh_engine: Engine, base_settings) -> Iterator[TestClient]:
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO friche (site_id, name, site_type, commune_insee, departement_code, "
                "geom_point) VALUES (:id, :name, :name, '91216', '91', "
                "ST_SetSRID(ST_MakePoint(650000, 6840000), 2154))"
            ),
            {"id": 'x"><b>1', "name": HOSTILE},
        )
    settings = base_settings.model_copy(
        update={"database_url": fresh_engine.url.render_as_string(hide_password=False)}
    )
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def test_hostile_values_are_shown_as_text(hostile_client: TestClient) -> None:
    for path in ("/collections/friches/items", '/collections/friches/items/x"><b>1'):
        response = hostile_client.get(path, params={"f": "html"})
        assert response.status_code == 200, response.text[:300]
        page = response.text
        assert "<script>" not in page and "<b>" not in page
        assert "\"' onmouseover" not in page  # no attribute broken out of
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27; onmouseover=x &amp;amp;" in page
    # the hostile id is quoted in the link to its page
    listing = hostile_client.get("/collections/friches/items", params={"f": "html"}).text
    assert "/collections/friches/items/x%22%3E%3Cb%3E1?f=html" in listing
