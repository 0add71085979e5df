"""Ranking at scale: full score refresh of ≥ 1,000,000 parcels, one commune, and the
latency of /parcels/search and /sites/search over HTTP against uvicorn.

    .venv/bin/python -m bench.scoring [--copies 236] [--workers 2]

The input is the real 91216 parcels replicated with offsets; copy k is filed under the
k-th commune of the Essonne (so an EPCI holds a realistic share of the parcels).
Synthetic overlays are drawn over them in SQL: a grid of PLU zones of every class,
friches around one parcel in 400 and economic sites around one in 1,500; buildings
(issue 14) on six parcels in ten (one in eight drawn across the parcel's boundary, one in
five light), and a legal-entity owner on one parcel in seven.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from unittest import mock

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import Engine

from app.db import make_engine, migrate
from app.settings import PROJECT_DIR, get_settings
from bench.import_cadastre import build_input, conninfo
from geo.ingest.admin import load_admin
from geo.ingest.cadastre import load_cadastre
from geo.land.buildings import count_parcel_buildings
from geo.scoring import land
from geo.scoring.profiles import DEFAULT_PROFILE
from geo.scoring.refresh import refresh_scores

DB = "foncier_bench_scoring"
EPCI = "200056232"  # CA Communauté Paris-Saclay


def essonne_communes() -> list[str]:
    communes = json.loads((PROJECT_DIR / "data" / "admin" / "communes.json").read_bytes())
    return sorted(
        c["code"] for c in communes if c["departement"] == "91" and c["type"] == "commune-actuelle"
    )


PLU_GRID = """
INSERT INTO plu_zone (gpu_id, libelle, typezone, zoning_class, commune_insee, departement_code,
                      area_m2, geom)
SELECT 'bench-' || i || '-' || j,
       (ARRAY['Ux', 'Ub', 'Uc', 'A', 'N'])[1 + (i + j) % 5],
       (ARRAY['U', 'U', 'U', 'A', 'N'])[1 + (i + j) % 5],
       (ARRAY['activity', 'housing', 'mixed', 'agricultural', 'natural'])[1 + (i + j) % 5],
       NULL, '91', 1e6,
       ST_Multi(ST_MakeEnvelope(x0 + i * 1000, y0 + j * 1000, x0 + (i + 1) * 1000,
                                y0 + (j + 1) * 1000, 2154))
FROM (SELECT floor(ST_XMin(e)) AS x0, floor(ST_YMin(e)) AS y0,
             ceil((ST_XMax(e) - ST_XMin(e)) / 1000) AS nx,
             ceil((ST_YMax(e) - ST_YMin(e)) / 1000) AS ny
      FROM (SELECT ST_Extent(geom)::geometry AS e FROM parcel) x) b,
     generate_series(0, nx::int) i, generate_series(0, ny::int) j;
"""
# Friches around one parcel in 400, economic sites around one in 1,500: any territory.
SPARSE_OVERLAYS = """
INSERT INTO friche (site_id, name, departement_code, commune_insee, site_type,
                    sol_pollution_existe, geom)
SELECT 'bench-' || id, 'friche (synthetic)', departement_code, commune_insee,
       'friche industrielle',
       (ARRAY['pollution avérée', 'pollution inexistante', NULL])[1 + (row_number() OVER ()) % 3],
       ST_Multi(ST_Buffer(ST_PointOnSurface(geom), 60))
FROM (SELECT * FROM parcel WHERE hashtext(id) % 400 = 0) p;
INSERT INTO economic_site (site_id, kind, name, departement_code, commune_insee, geom)
SELECT 'bench-' || id, 'zae', 'ZAE (synthetic)', departement_code, commune_insee,
       ST_Multi(ST_Buffer(ST_PointOnSurface(geom), 200, 1))
FROM (SELECT * FROM parcel WHERE hashtext(id) % 1500 = 0) p;
ANALYZE;
"""
OVERLAYS = PLU_GRID + SPARSE_OVERLAYS

# Buildings and owners (issue 14), drawn over the parcels like the Etalab layer and the
# DGFiP file would be: a footprint on 60 % of the parcels (Essonne: about 0.8 building a
# parcel), a tenth of the parcel's side, some across the boundary, some light.
LAND = """
INSERT INTO building (source, commune_insee, departement_code, hard, area_m2, geom,
                      geom_point)
SELECT 'cadastre', commune_insee, departement_code, h % 5 <> 0, ST_Area(g), ST_Multi(g),
       ST_PointOnSurface(g)
FROM (
    SELECT commune_insee, departement_code, abs(hashtext(id)) AS h,
           ST_Buffer(CASE WHEN abs(hashtext(id)) % 8 = 0
                          THEN ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1)
                          ELSE ST_PointOnSurface(geom) END,
                     least(sqrt(area_m2) * 0.15 + 2, 30), 'quad_segs=1') AS g
    FROM parcel WHERE abs(hashtext(id)) % 10 < 6
) b;
INSERT INTO parcel_owner (parcel_id, departement_code, commune_insee, owner_group, siren, name,
                          owner_rows)
SELECT id, departement_code, commune_insee,
       (ARRAY['commune', 'personne_morale', 'personne_morale', 'epci', 'etat', 'sem',
              'etablissement_public'])[1 + abs(hashtext(id || 'o')) % 7],
       '219100000', 'owner (synthetic)', 1
FROM parcel WHERE abs(hashtext(id || 'o')) % 7 = 0;
ANALYZE building; ANALYZE parcel_owner;
"""


def draw_overlays(engine: Engine, db: str, overlays: str, *, land: bool = True) -> None:
    """The synthetic overlays, then (``land``) buildings and owners and the per-parcel
    building counts the building loader would compute, each step timed and printed."""
    with psycopg.connect(conninfo(db), autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(overlays)  # no parameters: '%' is the modulo operator here
        print(
            "drew the PLU zones, friches and economic sites in "
            f"{time.perf_counter() - started:.1f} s"
        )
        if not land:
            return
        started = time.perf_counter()
        conn.execute(LAND)
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM building), (SELECT count(*) FROM parcel_owner)"
        ).fetchone()
        print(
            f"drew {counts[0]:,} buildings and {counts[1]:,} owners "
            f"in {time.perf_counter() - started:.1f} s"
        )
    # what the building loader does after its insert, for every commune
    started = time.perf_counter()
    with engine.begin() as conn2:
        communes = list(
            conn2.exec_driver_sql("SELECT DISTINCT commune_insee FROM building").scalars()
        )
        counted = count_parcel_buildings(conn2, sorted(communes))
    print(
        f"per-parcel building statistics (import step): {counted:,} parcels "
        f"with a building in {time.perf_counter() - started:.1f} s"
    )


def _no_coverage(conn, communes):
    """No building layer nor owner file anywhere: the land joins do nothing (--compare)."""
    return {"building_communes": [], "owner_communes": []}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(client: httpx.Client, url: str, n: int) -> list[float]:
    client.get(url).raise_for_status()  # warm-up
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return times


def summary(name: str, times: list[float]) -> str:
    q = statistics.quantiles(times, n=20)
    return (
        f"{name:<44} n={len(times):<4} p50 {statistics.median(times):7.1f} ms   "
        f"p95 {q[18]:7.1f} ms   max {max(times):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=236, help="copies of the 4,241 parcels")
    parser.add_argument("--workers", type=int, default=2, help="connections for the refresh")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database of a previous run (same copies)"
    )
    parser.add_argument(
        "--db", default=DB, help="database name (several people may bench on one server)"
    )
    parser.add_argument(
        "--no-land", action="store_true", help="without the buildings and owners (issue 14)"
    )
    parser.add_argument(
        "--no-http", action="store_true", help="refresh timings only, no search requests"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="each refresh also without the building and owner joins (their coverage emptied), "
        "alternately, to tell their cost from the machine's noise",
    )
    args = parser.parse_args()

    db = args.db
    url = get_settings().url_for(db)
    if not args.reuse:
        path = build_input(args.copies, essonne_communes())
        with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
        migrate(url=url)
    engine = make_engine(url)
    if not args.reuse:
        load_admin(engine, PROJECT_DIR / "data" / "admin")
        started = time.perf_counter()
        report = load_cadastre(engine, path)
        print(f"loaded {report.inserted:,} parcels in {time.perf_counter() - started:.1f} s")
        draw_overlays(engine, db, OVERLAYS, land=not args.no_land)
    else:
        migrate(url=url)

    if args.compare:
        for _ in range(3):
            with_land = refresh_scores(engine, commune="91216").seconds
            with mock.patch.object(land, "coverage", _no_coverage):
                without = refresh_scores(engine, commune="91216").seconds
            print(
                f"one commune (91216): {with_land:.2f} s, without buildings/owners {without:.2f} s"
            )
        with mock.patch.object(land, "coverage", _no_coverage):
            without = refresh_scores(engine, workers=args.workers).seconds
        print(f"full refresh without buildings/owners: {without:.1f} s")
    full = refresh_scores(engine, workers=args.workers)
    print(f"full refresh ({args.workers} connections): {full.lines()[0].strip()}")
    one = refresh_scores(engine, commune="91216")
    print(f"one commune (91216):      {one.lines()[0].strip()}")
    if args.no_http:
        return

    port = free_port()
    env = {**os.environ, "FONCIER_DATABASE_URL": url}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.api.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(100):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            # Counted here, not read from an answer: a search leaves numberMatched out when
            # its count outlasts FONCIER_COUNT_BUDGET_MS (geo/db/count.py).
            with psycopg.connect(conninfo(db)) as conn:
                matched = conn.execute(
                    "SELECT count(*) FROM parcel_score WHERE profile = %s AND epci_siren = %s "
                    "AND NOT excluded",
                    (DEFAULT_PROFILE, EPCI),
                ).fetchone()[0]  # type: ignore[index]
            print(f"EPCI {EPCI}: {matched:,} ranked parcels")
            for name, url_, n in (
                (
                    "/parcels/search epci, 100 best (small-industry)",
                    f"/parcels/search?epci={EPCI}&limit=100",
                    args.requests,
                ),
                (
                    "/parcels/search epci, 100 best, min_area=2",
                    f"/parcels/search?epci={EPCI}&limit=100&min_area=2&profile=logistics",
                    args.requests,
                ),
                (
                    "/sites/search commune, ≥ 10 ha, min_score 60",
                    "/sites/search?commune=91216&min_area=10&min_score=60&profile=large-industrial-site",
                    max(args.requests // 2, 20),
                ),
                (
                    "/sites/search commune, ≥ 10 ha, no score floor",
                    "/sites/search?commune=91216&min_area=10&profile=large-industrial-site",
                    20,
                ),
                (
                    "/sites/search EPCI, ≥ 10 ha, no score floor",
                    f"/sites/search?epci={EPCI}&min_area=10&profile=large-industrial-site",
                    20,
                ),
                (
                    "/sites/search EPCI, ≥ 5 ha, 20 m gap",
                    f"/sites/search?epci={EPCI}&min_area=5&gap=20",
                    20,
                ),
            ):
                print(summary(name, timed(client, url_, n)))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
