"""Limits: page size, bbox extent, body size, geometry vertices, query time (issue 7).
Each is a problem document; nothing is written; the worker serves the next request."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.api.main import create_app
from geo.ingest.cadastre import load_cadastre
from tests.helpers import CADASTRE_91216

PROBLEM = "application/problem+json"
TOKEN = "limits-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def make_client(fresh_engine: Engine, base_settings):
    load_cadastre(fresh_engine, CADASTRE_91216)
    apps = []

    def make(**overrides) -> TestClient:
        settings = base_settings.model_copy(
            update={
                "database_url": fresh_engine.url.render_as_string(hide_password=False),
                "admin_token": TOKEN,
                **overrides,
            }
        )
        app = create_app(settings)
        apps.append(app)
        return TestClient(app)

    yield make
    for app in apps:
        app.state.engine.dispose()


def square(n: int) -> dict:
    """A WGS84 polygon over Épinay-sur-Orge with n vertices on its boundary."""
    ring = [[2.31 + 0.01 * i / n, 48.67] for i in range(n - 3)]
    ring += [[2.32, 48.68], [2.31, 48.68], [2.31, 48.67]]
    return {"type": "Polygon", "coordinates": [ring]}


def assert_problem(response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert fragment in response.json()["detail"]


def test_page_size_and_bbox_extent(make_client) -> None:
    client = make_client(max_page_size=50, max_bbox_degrees=0.5)
    assert_problem(client.get("/parcels?limit=51"), 400, "must not exceed 50")
    assert_problem(client.get("/collections/parcels/items?limit=51"), 400, "must not exceed 50")
    wide = "bbox=1.5,48.0,2.5,49.0"
    for url in ("/parcels", "/collections/parcels/items", "/parcels/search"):
        assert_problem(client.get(f"{url}?{wide}"), 400, "at most 0.5° a side")
    assert client.get("/parcels?bbox=2.3,48.6,2.4,48.7&limit=50").status_code == 200


def test_body_size(make_client, fresh_engine: Engine) -> None:
    client = make_client(max_body_bytes=4096)
    big = {"name": "x" * 5000, "epci_siren": "200056232", "parcel_ids": ["91216000AB0037"]}
    assert_problem(client.post("/projects", json=big, headers=AUTH), 413, "exceeds 4096 bytes")

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b" " * 1000

    chunked = client.post(
        "/projects", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert_problem(chunked, 413, "exceeds 4096 bytes")
    assert chunked.json()["code"] == "too_large"
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM project")).scalar_one() == 0
    assert client.get("/health").status_code == 200


def test_geometry_vertex_count(make_client, fresh_engine: Engine) -> None:
    client = make_client(max_geometry_vertices=100)
    body = {"name": "Usine", "epci_siren": "200056232"}
    response = client.post("/projects", json={**body, "geometry": square(101)}, headers=AUTH)
    assert_problem(response, 422, "101 vertices: at most 100")
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM project")).scalar_one() == 0
    ok = client.post("/projects", json={**body, "geometry": square(100)}, headers=AUTH)
    assert ok.status_code == 201, ok.text


def test_statement_timeout_is_a_503_and_the_worker_goes_on(make_client) -> None:
    client = make_client(statement_timeout_ms=1)
    t0 = time.perf_counter()
    slow = client.get("/collections/parcels/items?limit=1000")
    assert time.perf_counter() - t0 < 5
    assert_problem(slow, 503, "longer than the 1 ms limit")
    assert client.get("/conformance").status_code == 200
    relaxed = make_client()
    assert relaxed.get("/collections/parcels/items?limit=1000").status_code == 200


def test_pool_sizes_per_process_are_settings(make_client) -> None:
    client = make_client(pool_size=3, pool_max_overflow=2)
    pool = client.app.state.engine.pool
    assert (pool.size(), pool._max_overflow) == (3, 2)


def test_the_service_sessions_run_without_jit(make_client) -> None:
    """Short queries over many partitions compiled for longer than they ran (issue 17)."""
    client = make_client()
    with client.app.state.engine.connect() as conn:
        assert conn.execute(text("SHOW jit")).scalar_one() == "off"
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "15s"


def test_no_free_connection_in_the_pool_is_a_503_problem(make_client) -> None:
    """Every pooled connection in use past the pool's timeout: busy, retry (it was a
    plain-text 500)."""
    from sqlalchemy import create_engine

    client = make_client()
    engine = client.app.state.engine
    client.app.state.engine = create_engine(
        engine.url, pool_size=1, max_overflow=0, pool_timeout=0.2
    )
    engine.dispose()
    with client.app.state.engine.connect():  # the only one
        for path in ("/parcels/search?commune=91216&limit=1", "/communes/91216"):
            response = client.get(path)
            assert_problem(response, 503, "busy")
            assert response.headers["retry-after"]
        # /health has connections of its own (app.db.health_engine): a busy pool is not a
        # database that is down
        assert client.get("/health").status_code == 200
    assert client.get("/parcels/search?commune=91216&limit=1").status_code == 200
    client.app.state.engine.dispose()
