"""`foncier tiles warm`: every tile over a territory requested once, so that the server's
tile cache holds them."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.api.main import create_app
from app.cli import main
from app.db import get_engine, make_engine
from app.services.tiles import territory_tiles, warm_tiles
from app.settings import get_settings
from geo.errors import Invalid, NotFound


@pytest.fixture(scope="module")
def scored(scored_db_url: str) -> Iterator[Engine]:
    engine = make_engine(scored_db_url)
    yield engine
    engine.dispose()


def _tile_at(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def test_a_territorys_tiles_cover_its_parcels(scored: Engine) -> None:
    """Every parcel of the commune lies in one of its tiles, at each zoom, and no tile is
    far from it; a deeper zoom has more tiles."""
    with scored.connect() as conn:
        tiles = territory_tiles(conn, "commune", "91216", range(13, 16))
        points = conn.execute(
            text(
                "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), "
                "4326) AS c FROM parcel WHERE commune_insee = '91216') p"
            )
        ).all()
        with pytest.raises(Invalid):
            territory_tiles(conn, "commune", "9121", [14])
        with pytest.raises(NotFound):
            territory_tiles(conn, "epci", "999999999", [14])
    by_zoom = {z: {t for t in tiles if t[0] == z} for z in (13, 14, 15)}
    assert 0 < len(by_zoom[13]) < len(by_zoom[14]) < len(by_zoom[15])
    assert len(set(tiles)) == len(tiles)
    for z, found in by_zoom.items():
        assert {_tile_at(lon, lat, z) for lon, lat in points} <= found, z


def test_a_commune_without_outline_has_the_tiles_of_its_parcels(scored: Engine) -> None:
    """Where the administrative files gave a commune no outline (the France-shaped bench's
    copies, some vintages), its tiles are those over its parcels' box."""
    with scored.connect() as conn:
        outlined = territory_tiles(conn, "commune", "91216", [14])
        conn.execute(text("UPDATE commune SET geom = NULL WHERE insee = '91216'"))
        boxed = territory_tiles(conn, "commune", "91216", [14])
        points = conn.execute(
            text(
                "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), "
                "4326) AS c FROM parcel WHERE commune_insee = '91216') p"
            )
        ).all()
        conn.rollback()
    assert {_tile_at(lon, lat, 14) for lon, lat in points} <= set(boxed)
    assert len(boxed) <= 2 * len(outlined)


def test_warming_fills_the_cache(scored_db_url: str, base_settings, scored: Engine) -> None:
    """After a warm, each of the territory's non-empty tiles is served from the cache."""
    app = create_app(base_settings.model_copy(update={"database_url": scored_db_url}))
    with TestClient(app) as client, scored.connect() as conn:
        tiles = territory_tiles(conn, "commune", "91216", [14])
        cache = app.state.tile_cache
        report = warm_tiles(client, "parcels", tiles)
        assert (report.tiles, report.failed) == (len(tiles), 0)
        assert report.empty < report.tiles and report.bytes > 0
        assert len(cache) == report.tiles  # every tile kept (an empty one too)
        hits = cache.hits
        for z, x, y in tiles:
            assert client.get(f"/tiles/parcels/{z}/{x}/{y}.mvt").status_code in (200, 204)
        assert cache.hits == hits + len(tiles)
    app.state.engine.dispose()


@pytest.fixture
def cli_on_scored(scored_db_url: str, monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("FONCIER_DATABASE_URL", scored_db_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_the_warm_command(cli_on_scored: None, live_server: str) -> None:
    """The command asks a running server for the tiles and says how many it warmed; a
    territory given twice, or none, or an unknown one, is a one-line error."""
    warm = ["tiles", "warm", "--min-zoom", "14", "--max-zoom", "14", "--url", live_server]
    result = CliRunner().invoke(main, [*warm, "--commune", "91216"])
    assert result.exit_code == 0, result.output
    count = int(result.output.split()[0])
    assert count > 0
    assert f"warmed {count} tiles (" in result.output and "0 failed" in result.output
    for wrong in (["--commune", "91216", "--epci", "200056232"], [], ["--epci", "999999999"]):
        failed = CliRunner().invoke(main, [*warm, *wrong])
        assert failed.exit_code == 1 and failed.output.startswith("error: "), failed.output
        assert len(failed.output.strip().splitlines()) == 1
