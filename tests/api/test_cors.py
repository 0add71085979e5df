"""Cross-origin access (app/api/cors.py): public reads from any page, token routes and
writes from the origins FONCIER_CORS_ORIGINS names only, preflights answered for both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.api.main import create_app
from app.settings import ApiSettings, Settings

FRONT = "https://carto.example.fr"  # the origin the settings name
ELSEWHERE = "https://une-carte.example.org"  # any other site
PUBLIC_READS = (
    "/",
    "/health",
    "/collections",
    "/collections/parcels/items?limit=1",
    "/collections/parcels/schema",
    "/tiles/parcels/tilejson.json",
    "/tiles/parcels/14/8301/5649.mvt",
    "/parcels/search?commune=91216&limit=1",
    "/trajectories/commune/91216",
    "/envelope",
    "/openapi.json",
)


@pytest.fixture(scope="module")
def client(base_settings: Settings, demo_db_url: str) -> Iterator[TestClient]:
    settings = base_settings.model_copy(
        update={"database_url": demo_db_url, "cors_origins": FRONT, "admin_token": "x" * 20}
    )
    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


@pytest.mark.parametrize("path", PUBLIC_READS)
def test_public_reads_are_open_to_every_origin(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"Origin": ELSEWHERE})
    assert response.status_code < 500, response.text[:200]  # errors carry CORS too
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    exposed = {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"ETag", "Link", "Content-Disposition", "Retry-After"} <= exposed


def test_a_map_page_preflight_for_tiles_is_answered(client: TestClient) -> None:
    """What MapLibre's fetch of a tile with If-None-Match makes the browser ask first."""
    response = client.options(
        "/tiles/parcels/14/8301/5649.mvt",
        headers={
            "Origin": ELSEWHERE,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "GET" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "if-none-match"


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/audit", {}),
        ("GET", "/saved-searches", {}),
        ("GET", "/me", {}),
        ("GET", "/collections/projects/items", {"Authorization": "Bearer " + "x" * 20}),
        ("POST", "/projects", {"Authorization": "Bearer " + "x" * 20}),
    ],
)
def test_token_routes_answer_the_named_origins_only(
    client: TestClient, method: str, path: str, headers: dict[str, str]
) -> None:
    other = client.request(method, path, headers={**headers, "Origin": ELSEWHERE})
    assert "access-control-allow-origin" not in other.headers
    named = client.request(method, path, headers={**headers, "Origin": FRONT})
    assert named.headers["access-control-allow-origin"] == FRONT
    assert "Origin" in named.headers["vary"]
    assert "access-control-allow-credentials" not in named.headers


@pytest.mark.parametrize(
    ("method", "path", "requested"),
    [
        ("POST", "/projects", "authorization, content-type"),
        ("DELETE", "/saved-searches/1", "authorization"),
        ("GET", "/collections/projects/items", "authorization"),
        ("GET", "/audit", "authorization"),
    ],
)
def test_token_preflights_answer_the_named_origins_only(
    client: TestClient, method: str, path: str, requested: str
) -> None:
    asked = {"Access-Control-Request-Method": method, "Access-Control-Request-Headers": requested}
    refused = client.options(path, headers={**asked, "Origin": ELSEWHERE})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "denied"
    assert "access-control-allow-origin" not in refused.headers
    allowed = client.options(path, headers={**asked, "Origin": FRONT})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == FRONT
    assert method in allowed.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in allowed.headers


def test_origins_are_named_never_a_wildcard() -> None:
    for value in ("*", "https://*.example.fr", "https://carto.example.fr/path"):
        with pytest.raises(ValidationError):
            ApiSettings(cors_origins=value)
    assert ApiSettings(cors_origins=f"{FRONT}, http://localhost:5173").cors_origin_list == [
        FRONT,
        "http://localhost:5173",
    ]
