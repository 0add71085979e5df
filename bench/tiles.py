"""The densest parcel tiles cold, warm from the tile cache, and after a refresh, against
tipg's MVT on the same table (issue 33).

    .venv/bin/python -m bench.tiles [--requests 60] [--skip-tipg]

Against the (scored) database the settings point at: the z13 tile holding the most
parcels (DENSEST_Z13) and its z14 child holding the most. Each server runs
under uvicorn, one worker, on the same database; ``--requests`` sequential requests per
figure, with gzip as a browser asks:

- cold: Foncier with its tile cache off (FONCIER_TILE_CACHE_MB=0), every request made
  anew from PostGIS (what a tile costs the first time);
- first / warm: Foncier with its cache, the first request (made and kept), then the next
  ones (from the cache: the version query, a look-up, the gzip bytes kept);
- after a refresh: the tile's commune re-scored (``refresh_scores(commune=…)``, in this
  process: another connection, as another process would), then the first request (a miss:
  the tile made anew) and the ones after it (from the cache again);
- tipg: ``/collections/public.parcel/tiles/WebMercatorQuad/{z}/{x}/{y}`` (tipg 1.x).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import httpx
import psycopg
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app.settings import get_settings
from bench.features import Server, ensure_tipg, percentile, start
from bench.import_cadastre import conninfo
from geo.scoring.refresh import refresh_scores

# The z13 tile (Web Mercator) holding the most parcels: the five most populated in a 10 %
# sample of the parcels' centres, then the one of them over which the most parcels lie
# (counted through the spatial index). The sample alone picked different tiles from one
# import to the next (near ties; a sample of blocks once a tile with 13 % fewer parcels).
DENSEST_Z13 = """
WITH candidates AS (
    SELECT floor((ST_X(p) + 20037508.342789244) / (40075016.68557849 / 8192))::int AS x,
           floor((20037508.342789244 - ST_Y(p)) / (40075016.68557849 / 8192))::int AS y
    FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint((ST_XMin(geom) + ST_XMax(geom)) / 2,
                                                      (ST_YMin(geom) + ST_YMax(geom)) / 2),
                                         2154), 3857) AS p
          FROM parcel TABLESAMPLE BERNOULLI (10) REPEATABLE (17)) s
    GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 5
)
SELECT x, y FROM candidates c
ORDER BY (SELECT count(*) FROM parcel
          WHERE geom && ST_Transform(ST_TileEnvelope(13, c.x, c.y), 2154)) DESC, x, y
LIMIT 1
"""
DENSEST_CHILD = """
SELECT x, y FROM (VALUES (2 * %(x)s, 2 * %(y)s), (2 * %(x)s + 1, 2 * %(y)s),
                         (2 * %(x)s, 2 * %(y)s + 1), (2 * %(x)s + 1, 2 * %(y)s + 1)) c(x, y)
ORDER BY (SELECT count(*) FROM parcel
          WHERE geom && ST_Transform(ST_TileEnvelope(14, c.x, c.y), 2154)) DESC
LIMIT 1
"""
# the commune with the most parcels in the tile: the one the refresh re-scores
TILE_COMMUNE = """
SELECT commune_insee, count(*) OVER () FROM parcel
WHERE geom && ST_Transform(ST_TileEnvelope(%s, %s, %s), 2154)
GROUP BY commune_insee ORDER BY count(*) DESC LIMIT 1
"""


def times(http: httpx.Client, url: str, n: int) -> tuple[list[float], int]:
    """Latencies (ms) of ``n`` sequential requests, and the bytes of the last body."""
    lat = []
    size = 0
    for _ in range(n):
        t0 = time.perf_counter()
        r = http.get(url)
        lat.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
        size = len(r.content)
    return lat, size


def fmt(lat: list[float]) -> str:
    if len(lat) == 1:
        return f"{lat[0]:.1f} ms (one request)"
    return f"p50 {statistics.median(lat):.1f} / p95 {percentile(lat, 0.95):.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--skip-tipg", action="store_true")
    args = parser.parse_args()
    for line in measure(get_settings().url_for(), args.requests, not args.skip_tipg):
        print(line)


def measure(db_url: str, n: int, with_tipg: bool) -> list[str]:
    """The lines of the comparison above, on the database at ``db_url``, ``n`` requests
    a figure."""
    db = make_url(db_url).database
    assert db is not None
    with psycopg.connect(conninfo(db)) as conn:
        x13, y13 = conn.execute(DENSEST_Z13).fetchone()  # type: ignore[misc]
        x14, y14 = conn.execute(DENSEST_CHILD, {"x": x13, "y": y13}).fetchone()  # type: ignore[misc]
        tiles = [(13, x13, y13), (14, x14, y14)]
        counts = {
            t: conn.execute(
                "SELECT count(*) FROM parcel WHERE geom && "
                "ST_Transform(ST_TileEnvelope(%s, %s, %s), 2154)",
                t,
            ).fetchone()[0]  # type: ignore[index]
            for t in tiles
        }
        commune = conn.execute(TILE_COMMUNE, tiles[1]).fetchone()[0]  # type: ignore[index]
    env = {"FONCIER_DATABASE_URL": db_url}
    servers: list[Server] = []
    try:
        cold = start("foncier-cold", sys.executable, "app.api.main:app",
                     {**env, "FONCIER_TILE_CACHE_MB": "0"})  # fmt: skip
        servers.append(cold)
        cached = start("foncier", sys.executable, "app.api.main:app", env)
        servers.append(cached)
        tipg = None
        if with_tipg:
            libpq = make_url(db_url).set(drivername="postgresql")
            tipg = start("tipg", str(ensure_tipg()), "tipg.main:app", {
                "DATABASE_URL": libpq.render_as_string(hide_password=False),
                "TIPG_DB_SCHEMAS": '["public"]',
            })  # fmt: skip
            servers.append(tipg)
        rows: dict[tuple[int, int, int], dict[str, str]] = {t: {} for t in tiles}
        with httpx.Client(timeout=60, headers={"Accept-Encoding": "gzip"}) as http:
            for t in tiles:
                path = "/tiles/parcels/{}/{}/{}.mvt".format(*t)
                http.get(cold.base + path).raise_for_status()  # the database's pages warm
                lat, size = times(http, cold.base + path, n)
                rows[t]["cold (cache off)"] = f"{fmt(lat)}, {size / 1024:.0f} KB gzip"
                rows[t]["first request"] = fmt(times(http, cached.base + path, 1)[0])
                rows[t]["warm (cached)"] = fmt(times(http, cached.base + path, n)[0])
                if tipg is not None:
                    tpath = "/collections/public.parcel/tiles/WebMercatorQuad/{}/{}/{}".format(*t)
                    http.get(tipg.base + tpath).raise_for_status()
                    lat, size = times(http, tipg.base + tpath, n)
                    rows[t]["tipg"] = f"{fmt(lat)}, {size / 1024:.0f} KB"
            engine = create_engine(db_url)
            t0 = time.perf_counter()
            refresh_scores(engine, commune=commune)
            refreshed = time.perf_counter() - t0
            engine.dispose()
            for t in tiles:
                path = "/tiles/parcels/{}/{}/{}.mvt".format(*t)
                rows[t]["after refresh, first"] = fmt(times(http, cached.base + path, 1)[0])
                rows[t]["after refresh, next"] = fmt(times(http, cached.base + path, n - 1)[0])
        lines = [f"commune {commune} re-scored in {refreshed:.1f} s between the two passes"]
        for t in tiles:
            lines.append(f"z{t[0]} tile {t[1]}/{t[2]} ({counts[t]:,} parcels), {n} requests:")
            lines += [f"  {what:<22} {figure}" for what, figure in rows[t].items()]
        return lines
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
