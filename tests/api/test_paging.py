"""One paging helper: /parcels and /parcels/search carry the same self, next and prev links."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.settings import Settings


@pytest.fixture(scope="module")
def scored_client(base_settings: Settings, scored_db_url: str) -> Iterator[TestClient]:
    app = create_app(base_settings.model_copy(update={"database_url": scored_db_url}))
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def _links(body: dict) -> dict[str, dict[str, list[str]]]:
    return {link["rel"]: parse_qs(urlsplit(link["href"]).query) for link in body["links"]}


@pytest.mark.parametrize("path", ["/parcels", "/parcels/search"])
def test_a_middle_page_links_back_and_forth(scored_client: TestClient, path: str) -> None:
    body = scored_client.get(path, params={"commune": "91216", "limit": 3, "offset": 4}).json()
    links = _links(body)
    assert links["self"]["offset"] == ["4"] and links["self"]["limit"] == ["3"]
    assert links["next"]["offset"] == ["7"]
    assert links["prev"]["offset"] == ["1"]
    first = _links(scored_client.get(path, params={"commune": "91216", "limit": 3}).json())
    assert "prev" not in first and first["next"]["offset"] == ["3"]


@pytest.mark.parametrize("path", ["/parcels", "/parcels/search", "/collections/parcels/items"])
def test_one_page_size_check(scored_client: TestClient, path: str) -> None:
    response = scored_client.get(path, params={"limit": 1_000_000})
    assert response.status_code == 400
    assert "limit must not exceed" in response.json()["detail"]
