"""Tiles served from the cache until a write under them: an import, a score refresh, a
ledger entry makes exactly the tiles over its communes anew, in every process."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.api.main import create_app
from app.services.tile_cache import TileCache
from geo.ingest.cadastre import load_cadastre
from geo.scoring.refresh import refresh_scores
from tests.helpers import CADASTRE_91216, DATA
from tests.helpers.ledger import authorisation

CADASTRE_91326 = DATA / "cadastre" / "cadastre-91326-parcelles.json.gz"
TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _tile_of(engine: Engine, where: str, z: int = 14) -> tuple[int, int, int]:
    """The z tile under the middle of the parcels ``where`` selects."""
    lon, lat = (
        engine.connect()
        .execute(
            text(
                "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_PointOnSurface("
                f"ST_Collect(geom)), 4326) AS c FROM parcel WHERE {where}) p"
            )
        )
        .one()
    )
    return _tile_at(lon, lat, z)


def _tile_at(lon: float, lat: float, z: int = 14) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def _app(engine: Engine, base_settings) -> TestClient:
    settings = base_settings.model_copy(
        update={
            "database_url": engine.url.render_as_string(hide_password=False),
            "admin_token": TOKEN,
            "admin_name": "prefecture-test",
        }
    )
    return TestClient(create_app(settings))


@pytest.fixture
def two_processes(fresh_engine: Engine, base_settings) -> Iterator[tuple[TestClient, TestClient]]:
    """Two instances of the service on one database, each with its own cache."""
    load_cadastre(fresh_engine, CADASTRE_91216)
    with _app(fresh_engine, base_settings) as a, _app(fresh_engine, base_settings) as b:
        yield a, b
    for client in (a, b):
        client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _cache(client: TestClient) -> TileCache:
    return client.app.state.tile_cache  # type: ignore[attr-defined]


def _get(client: TestClient, collection: str, tile: tuple[int, int, int]):
    return client.get("/tiles/{}/{}/{}/{}.mvt".format(collection, *tile))


def _features(response) -> list[dict]:
    if response.status_code == 204:
        return []
    return mapbox_vector_tile.decode(response.content)["parcels"]["features"]


@pytest.mark.slow
def test_a_refresh_remakes_its_communes_tiles_only(
    two_processes: tuple[TestClient, TestClient], fresh_engine: Engine
) -> None:
    a, b = two_processes
    load_cadastre(fresh_engine, CADASTRE_91326)
    here = _tile_of(fresh_engine, "commune_insee = '91216'")
    elsewhere = _tile_of(fresh_engine, "commune_insee = '91326'")
    with fresh_engine.connect() as conn:
        under = conn.execute(
            text(
                "SELECT commune_insee FROM tile_generation WHERE extent && ST_Transform("
                "ST_TileEnvelope(:z, :x, :y, margin => 1.0 / 64), 2154)"
            ),
            dict(zip("zxy", elsewhere, strict=True)),
        ).scalars()
        assert list(under) == ["91326"]  # the premise: 91216 is not under that tile
    first = _get(a, "parcels", here)
    assert {f["properties"].get("score") for f in _features(first)} == {None}  # not scored
    assert _get(b, "parcels", here).headers["etag"] == first.headers["etag"]
    other = _get(a, "parcels", elsewhere)
    assert _features(other)
    hits, misses = _cache(a).hits, _cache(a).misses
    assert _get(a, "parcels", here).headers["etag"] == first.headers["etag"]
    assert (_cache(a).hits, _cache(a).misses) == (hits + 1, misses)

    # written through the refresh's own connections, as another process would
    refresh_scores(fresh_engine, commune="91216")

    for client in (a, b):
        misses = _cache(client).misses
        fresh = _get(client, "parcels", here)
        assert _cache(client).misses == misses + 1
        assert fresh.headers["etag"] != first.headers["etag"]
        assert None not in {f["properties"].get("score") for f in _features(fresh)}
    # the commune not refreshed: still its cached tile
    hits = _cache(a).hits
    again = _get(a, "parcels", elsewhere)
    assert _cache(a).hits == hits + 1 and again.headers["etag"] == other.headers["etag"]
    assert {f["properties"].get("score") for f in _features(again)} == {None}
    # a full refresh swaps the score tables in: every commune's tiles are made anew
    refresh_scores(fresh_engine)
    assert None not in {
        f["properties"].get("score") for f in _features(_get(a, "parcels", elsewhere))
    }


def test_an_import_remakes_the_tiles_it_draws_on(
    two_processes: tuple[TestClient, TestClient], fresh_engine: Engine
) -> None:
    """A tile made empty before a commune's first import shows its parcels after it."""
    a, _ = two_processes
    with gzip.open(CADASTRE_91326) as f:
        point = json.load(f)["features"][0]["geometry"]["coordinates"]
    while isinstance(point[0], list):  # a Polygon's or a MultiPolygon's first vertex
        point = point[0]
    lon, lat = point
    tile = _tile_at(lon, lat)
    assert _get(a, "parcels", tile).status_code == 204
    hits = _cache(a).hits
    assert _get(a, "parcels", tile).status_code == 204
    assert _cache(a).hits == hits + 1
    load_cadastre(fresh_engine, CADASTRE_91326)
    assert _features(_get(a, "parcels", tile))


def test_a_ledger_entry_remakes_the_projects_tile(
    two_processes: tuple[TestClient, TestClient], fresh_engine: Engine
) -> None:
    a, b = two_processes
    tile = _tile_of(fresh_engine, "id = '91216000AB0037'")
    body = {
        "name": "Usine (synthetic)",
        "kind": "industrial",
        "epci_siren": "200056232",
        "parcel_ids": ["91216000AB0037"],
    }
    created = a.post("/projects", json=body, headers=AUTH)
    assert created.status_code == 201, created.text
    # planned: not public, not drawn; the empty tile is cached by both instances
    for client in (a, b):
        assert _get(client, "projects", tile).status_code == 204
        assert _get(client, "projects", tile).status_code == 204
    parcels = _get(b, "parcels", tile).headers["etag"]
    authorised = a.post(
        f"/projects/{created.json()['id']}/status",
        json={"status": "authorised", "reason": "PC accordé"} | authorisation(),
        headers=AUTH,
    )
    assert authorised.status_code == 200, authorised.text
    for client in (a, b):
        drawn = _get(client, "projects", tile)
        assert drawn.status_code == 200
        names = [
            f["properties"]["name"]
            for f in mapbox_vector_tile.decode(drawn.content)["projects"]["features"]
        ]
        assert names == ["Usine (synthetic)"]
    # the parcels under it are the same: remade (same commune), same bytes
    assert _get(b, "parcels", tile).headers["etag"] == parcels


def test_the_cache_is_bounded() -> None:
    class Value:
        size = 100

    cache: TileCache[Value] = TileCache(max_bytes=1000)
    for key in range(20):
        cache.put(key, Value())
    assert len(cache) == 10 and cache.bytes == 1000
    assert cache.get(0) is None and cache.get(19) is not None
