"""The growth curve (issue 17): every cost of the service at one size of the France-shaped
cadastre, printed as one markdown table.

    .venv/bin/python -m bench.scale --parcels 1000000 [--skip-import | --reuse]
                                    [--skip-ogr2ogr] [--skip-tipg] [--seconds 10]
                                    [--export-runs 3]

For ``--parcels N`` (the input of ``bench/france.py``, generated once under
``bench/out/france-N/``), in the database ``foncier_scale_N``:

1. import: ``foncier import cadastre`` of the département files against ``ogr2ogr`` (one
   run per file, appending to one table), each in a child process timed with wait4()
   as ``bench/import_cadastre.py`` does: wall time and peak resident memory;
2. the overlays of ``bench/scoring.py`` (a 1 km PLU grid, here only over the cells holding
   parcels; friches, economic sites, buildings and owners), then the full refresh of the
   scores over 2 connections, and one commune's refresh;
3. against uvicorn (one worker): ``/collections`` (the first answer computes the extents,
   later ones are cached), ``/parcels/search`` for the largest commune, EPCI and
   département, ``/sites/search`` for that commune and EPCI, OGC items in boxes over the
   commune against tipg (``bench/features.py``: same boxes, same data, same clients), the
   tiles z13-z16 of the z13 tile holding the most parcels and its children (made anew at
   each request: the tile cache is off for this server);
4. table and index sizes per parcel, the uvicorn process's memory and the PostgreSQL
   backends' (RSS and PSS, from /proc);
5. the densest z13 tile and its densest z14 child cold (cache off), first, warm (from the
   tile cache) and after their commune's refresh, against tipg's tiles (``bench/tiles.py``);
6. exports of the département or EPCI whose ranked parcels are nearest 100,000, as CSV,
   GeoPackage and GeoJSON, each against ogr2ogr writing the same rows from the same database
   (``bench/export.py``), ``--export-runs`` times (0: none).

``--skip-import`` keeps the database a previous run loaded at this size (no import, no
overlays); ``--reuse`` also keeps its scores (no full refresh). The peers are skipped
when missing (``ogr2ogr``: Debian ``gdal-bin``; tipg is installed by ``bench/features.py``
into ``bench/out/tipg-venv`` from PyPI) or when asked. Territory sizes are printed beside
each figure: run it at several sizes and the curve tells what grows with the territory
asked and what with the whole table (the last column is left for that reading).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

import bench.export
import bench.tiles
from app.db import make_engine, migrate
from app.settings import PROJECT_DIR, get_settings
from bench import france
from bench.features import bbox_urls, ensure_tipg, hammer, percentile, start
from bench.import_cadastre import conninfo, fresh_database, measure
from bench.scoring import SPARSE_OVERLAYS, draw_overlays, timed
from bench.tiles import DENSEST_Z13
from geo.ingest.admin import load_admin
from geo.scoring.profiles import DEFAULT_PROFILE
from geo.scoring.refresh import refresh_scores
from geo.scoring.search import Filters

# bench/scoring.py's 1 km grid of PLU zones of every class, drawn only over the cells
# that hold parcels: over France's extent a full grid would be ~500,000 empty zones.
PLU_GRID = """
INSERT INTO plu_zone (gpu_id, libelle, typezone, zoning_class, commune_insee, departement_code,
                      area_m2, geom)
SELECT 'bench-' || i || '-' || j,
       (ARRAY['Ux', 'Ub', 'Uc', 'A', 'N'])[1 + (i + j) % 5],
       (ARRAY['U', 'U', 'U', 'A', 'N'])[1 + (i + j) % 5],
       (ARRAY['activity', 'housing', 'mixed', 'agricultural', 'natural'])[1 + (i + j) % 5],
       NULL, departement_code, 1e6,
       ST_Multi(ST_MakeEnvelope(i * 1000, j * 1000, (i + 1) * 1000, (j + 1) * 1000, 2154))
FROM (SELECT floor((ST_XMin(geom) + ST_XMax(geom)) / 2000)::int AS i,
             floor((ST_YMin(geom) + ST_YMax(geom)) / 2000)::int AS j,
             min(departement_code) AS departement_code
      FROM parcel GROUP BY 1, 2) cells;
"""
SIZED_TABLES = (
    "parcel",
    "parcel_features",
    "parcel_score",
    "parcel_building",
    "building",
    "parcel_owner",
    "plu_zone",
)


@dataclass
class Row:
    measure: str
    territory: str
    ours: str
    peer: str = ""
    ratio: str = ""


def ms(times: list[float]) -> str:
    """p50/p95 of latencies in milliseconds."""
    return f"p50 {percentile(times, 0.5):.1f} / p95 {percentile(times, 0.95):.1f} ms"


def latency(client: httpx.Client, url: str, n: int) -> str:
    """p50/p95 of ``n`` sequential requests, or the error the service answered."""
    try:
        return ms(timed(client, url, n))
    except httpx.HTTPStatusError as exc:
        try:
            detail = str(exc.response.json().get("detail", ""))
        except ValueError:
            detail = exc.response.text
        return f"error {exc.response.status_code}: {detail[:90]}"


def import_rows(db: str, url: str, files: list[Path], parcels: int, ogr: bool) -> list[Row]:
    env = {**os.environ, "FONCIER_DATABASE_URL": url}
    ours_s, ours_mb, _ = measure(
        [sys.executable, "-m", "app.cli", "import", "cadastre", *map(str, files)], env
    )
    ours = f"{parcels / ours_s:,.0f} parcels/s ({ours_s:.1f} s), peak {ours_mb:.0f} MB"
    row = Row("import (all files)", f"{parcels:,}", ours)
    ogr2ogr = shutil.which("ogr2ogr")
    if ogr and ogr2ogr:
        seconds, peak = 0.0, 0.0
        for i, path in enumerate(files):
            s, mb, _ = measure(
                [ogr2ogr, "-f", "PostgreSQL", f"PG:{conninfo(db)}", str(path),
                 "-nln", "parcel_ogr", "-t_srs", "EPSG:2154", "-nlt", "MULTIPOLYGON",
                 "-lco", "GEOMETRY_NAME=geom", "-overwrite" if i == 0 else "-append"],
                {**os.environ, "PG_USE_COPY": "YES"},
            )  # fmt: skip
            seconds += s
            peak = max(peak, mb)
        with psycopg.connect(conninfo(db), autocommit=True) as conn:
            loaded = conn.execute("SELECT count(*) FROM parcel_ogr").fetchone()[0]
            conn.execute("DROP TABLE parcel_ogr")
        row.peer = (
            f"ogr2ogr {loaded / seconds:,.0f} parcels/s ({seconds:.1f} s), peak {peak:.0f} MB"
        )
        row.ratio = f"{(parcels / ours_s) / (loaded / seconds):.2f}x"
    elif ogr:
        row.peer = "ogr2ogr not found (apt-get install gdal-bin)"
    return [row]


@dataclass
class Territories:
    commune: tuple[str, int]
    epci: tuple[str, int]
    departement: tuple[str, int]
    commune_bbox: list[float]  # WGS84
    total: int


def territories(db: str) -> Territories:
    """The largest commune, EPCI and département of the table, by parcels."""
    with psycopg.connect(conninfo(db)) as conn:
        rows = conn.execute(
            "SELECT commune_insee, departement_code, count(*) FROM parcel GROUP BY 1, 2"
        ).fetchall()
        epci_of = dict(
            conn.execute("SELECT insee, epci_siren FROM commune WHERE epci_siren IS NOT NULL")
        )
        communes: dict[str, int] = {}
        epcis: dict[str, int] = {}
        deps: dict[str, int] = {}
        for commune, dep, n in rows:
            communes[commune] = n
            deps[dep] = deps.get(dep, 0) + n
            if commune in epci_of:
                epcis[epci_of[commune]] = epcis.get(epci_of[commune], 0) + n
        commune = max(communes.items(), key=lambda kv: kv[1])
        bbox = conn.execute(
            "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
            "(SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 2154), 4326) AS b "
            " FROM parcel WHERE commune_insee = %s) e",
            (commune[0],),
        ).fetchone()
    return Territories(
        commune=commune,
        epci=max(epcis.items(), key=lambda kv: kv[1]),
        departement=max(deps.items(), key=lambda kv: kv[1]),
        commune_bbox=list(bbox),
        total=sum(communes.values()),
    )


def refresh_rows(url: str, commune: tuple[str, int], full: bool) -> list[Row]:
    engine = make_engine(url)
    rows = []
    if full:
        report = refresh_scores(engine, workers=2)
        scoring = report.scoring_seconds
        rows.append(
            Row(
                "full refresh of scores (2 connections)",
                f"{report.parcels:,}",
                f"{report.parcels / scoring:,.0f} parcels/s ({scoring:.1f} s)",
            )
        )
        # After an import its first refresh also pairs the touching parcels of the
        # imported communes (geo.scoring.adjacency), once: timed apart.
        if report.adjacency and report.adjacency.communes:
            rows.append(
                Row(
                    "touching parcels paired (in the first refresh after the import)",
                    f"{report.adjacency.communes:,} communes",
                    f"{report.adjacency.pairs:,} pairs in {report.adjacency.seconds:.1f} s",
                )
            )
        # The new score tables are then vacuumed by autovacuum (the visibility map that
        # index-only scans need): done here, timed apart, so that the requests below
        # measure the steady state and do not share the machine with it.
        started = time.perf_counter()
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in ("parcel_features", "parcel_score"):
                conn.exec_driver_sql(f"VACUUM {table}")
        rows.append(
            Row(
                "vacuum of the new score tables (after the refresh)",
                f"{report.parcels:,}",
                f"{time.perf_counter() - started:.1f} s",
            )
        )
    one = [refresh_scores(engine, commune=commune[0]).seconds for _ in range(3)]
    rows.append(
        Row(
            f"one commune's refresh ({commune[0]}), 3 runs",
            f"{commune[1]:,}",
            " / ".join(f"{s:.2f}" for s in one) + " s",
        )
    )
    engine.dispose()
    return rows


def tiles_of(z13: tuple[int, int], zoom: int) -> list[tuple[int, int, int]]:
    """The tiles at ``zoom`` inside the z13 tile ``z13``."""
    k = 2 ** (zoom - 13)
    x0, y0 = z13[0] * k, z13[1] * k
    return [(zoom, x, y) for x in range(x0, x0 + k) for y in range(y0, y0 + k)]


def process_memory(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB of a process, from /proc (PSS shares shared pages fairly)."""
    fields = {}
    for name in ("status", "smaps_rollup"):
        try:
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                key, _, value = line.partition(":")
                if value.strip().endswith("kB"):
                    fields[key] = int(value.split()[0]) / 1024
        except OSError:
            pass
    return fields.get("VmRSS", math.nan), fields.get("Pss", math.nan)


def http_rows(
    db: str, url: str, places: Territories, requests: int, seconds: float, clients: int, tipg: bool
) -> list[Row]:
    rows: list[Row] = []
    # The tile cache off: the tile rows keep measuring tiles made by PostGIS (cold), as
    # the targets ask; bench/tiles.py measures the cache.
    env = {"FONCIER_DATABASE_URL": url, "FONCIER_TILE_CACHE_MB": "0"}
    server = start("foncier", sys.executable, "app.api.main:app", env)
    try:
        with httpx.Client(base_url=server.base, timeout=120) as client:
            t0 = time.perf_counter()
            client.get("/collections").raise_for_status()
            cold = (time.perf_counter() - t0) * 1000
            warm = timed(client, "/collections", requests)
            rows.append(
                Row(
                    "/collections", "whole table", f"first {cold:.0f} ms (extents), then {ms(warm)}"
                )
            )
            (commune, nc), (epci, ne), (dep, nd) = places.commune, places.epci, places.departement
            for what, query, n in (
                (f"/parcels/search commune {commune}", f"commune={commune}", nc),
                (f"/parcels/search EPCI {epci}", f"epci={epci}", ne),
                (f"/parcels/search département {dep}", f"departement={dep}", nd),
                ("/parcels/search France (no territory)", "", places.total),
            ):
                answer = latency(client, f"/parcels/search?{query}&limit=100", requests)
                rows.append(Row(what + ", 100 best", f"{n:,}", answer))
            for what, query, n in (
                (f"/sites/search commune {commune}", f"commune={commune}", nc),
                (f"/sites/search EPCI {epci}", f"epci={epci}", ne),
            ):
                answer = latency(
                    client,
                    f"/sites/search?{query}&min_area=10&profile=large-industrial-site",
                    max(requests // 5, 10),
                )
                rows.append(Row(what + ", ≥ 10 ha, no floor", f"{n:,}", answer))
        rows += items_rows(db, server.base, places, seconds, clients, tipg)
        rows += tile_rows(db, server.base, requests)
        rss, pss = process_memory(server.process.pid)
        with psycopg.connect(conninfo(db)) as conn:
            pids = [
                pid
                for (pid,) in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                    "AND pid <> pg_backend_pid()",
                    (db,),
                )
            ]
        backends = [process_memory(pid) for pid in pids]
        rows.append(
            Row(
                "server memory after the requests",
                "-",
                f"uvicorn RSS {rss:.0f} MB (PSS {pss:.0f}); {len(pids)} PostgreSQL backends "
                f"RSS {sum(b[0] for b in backends):.0f} MB (PSS {sum(b[1] for b in backends):.0f})",
            )
        )
    finally:
        server.stop()
    return rows


def items_rows(
    db: str, base: str, places: Territories, seconds: float, clients: int, tipg: bool
) -> list[Row]:
    boxes = bbox_urls(places.commune_bbox, 400)
    ours_urls = [f"{base}/collections/parcels/items?limit=100&bbox={b}" for b in boxes]
    hammer(ours_urls[:50], clients, 2)  # warm-up
    n, lat, errors = hammer(ours_urls, clients, seconds)
    row = Row(
        f"OGC items?limit=100&bbox, 400 boxes ~400 m over {places.commune[0]}, {clients} clients",
        f"{places.total:,} (table)",
        f"{n / seconds:.1f} req/s, {ms([1000 * t for t in lat])}, {errors} errors",
    )
    if tipg:
        libpq = make_url(get_settings().url_for(db)).set(drivername="postgresql")
        try:
            peer = start(
                "tipg",
                str(ensure_tipg()),
                "tipg.main:app",
                {
                    "DATABASE_URL": libpq.render_as_string(hide_password=False),
                    "TIPG_DB_SCHEMAS": '["public"]',
                },
            )
        except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
            row.peer = f"tipg unavailable ({exc})"
            return [row]
        try:
            urls = [
                f"{peer.base}/collections/public.parcel/items?limit=100&bbox={b}" for b in boxes
            ]
            hammer(urls[:50], clients, 2)
            pn, plat, perrors = hammer(urls, clients, seconds)
        finally:
            peer.stop()
        row.peer = (
            f"tipg {pn / seconds:.1f} req/s, {ms([1000 * t for t in plat])}, {perrors} errors"
        )
        row.ratio = f"{n / pn:.2f}x" if pn else "-"
    return [row]


def tile_rows(db: str, base: str, rounds: int) -> list[Row]:
    with psycopg.connect(conninfo(db)) as conn:
        z13 = conn.execute(DENSEST_Z13).fetchone()
    rows = []
    with httpx.Client(timeout=60, headers={"Accept-Encoding": "gzip"}) as http:
        for zoom in range(13, 17):
            urls = [f"{base}/tiles/parcels/{z}/{x}/{y}.mvt" for z, x, y in tiles_of(z13, zoom)]
            for u in urls:
                http.get(u).raise_for_status()  # warm-up
            lat, sizes = [], []
            passes = max(1, min(rounds // len(urls), 20))
            for _ in range(passes):
                for u in urls:
                    t0 = time.perf_counter()
                    r = http.get(u)
                    lat.append(time.perf_counter() - t0)
                    sizes.append(len(r.content))
            rows.append(
                Row(
                    f"tiles z{zoom} in the densest z13 tile {z13[0]}/{z13[1]}",
                    f"{len(urls)} tiles",
                    f"{ms([1000 * t for t in lat])}, {len(lat)} requests, "
                    f"{statistics.mean(sizes) / 1024:.0f} KB mean",
                )
            )
    return rows


def size_rows(db: str, parcels: int) -> list[Row]:
    rows = []
    with psycopg.connect(conninfo(db)) as conn:
        for table in SIZED_TABLES:
            heap, index = conn.execute(
                "SELECT coalesce(sum(pg_table_size(relid)), 0)::bigint, "
                "coalesce(sum(pg_indexes_size(relid)), 0)::bigint "
                "FROM (SELECT relid FROM pg_partition_tree(%s) UNION SELECT %s::regclass) t",
                (table, table),
            ).fetchone()
            rows.append(
                Row(
                    f"size of {table} (table / indexes)",
                    "whole table",
                    f"{heap / parcels:,.0f} / {index / parcels:,.0f} bytes per parcel "
                    f"({(heap + index) / 1e6:,.0f} MB)",
                )
            )
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    rows.append(
        Row(
            "database size",
            "whole table",
            f"{total / parcels:,.0f} bytes per parcel ({total / 1e6:,.0f} MB)",
        )
    )
    return rows


def table(rows: list[Row], parcels: int) -> str:
    head = [
        f"| {parcels:,} parcels | territory (parcels) | foncier | peer | ratio | grows with |",
        "|---|---|---|---|---|---|",
    ]
    body = [f"| {r.measure} | {r.territory} | {r.ours} | {r.peer} | {r.ratio} |  |" for r in rows]
    return "\n".join(head + body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, required=True)
    parser.add_argument("--db", help="database name (default foncier_scale_<parcels>)")
    parser.add_argument(
        "--skip-import",
        action="store_true",
        help="keep the database a previous run loaded at this size (no import, no overlays)",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="as --skip-import, and keep its scores too"
    )
    parser.add_argument("--skip-ogr2ogr", action="store_true")
    parser.add_argument("--skip-tipg", action="store_true")
    parser.add_argument("--requests", type=int, default=100, help="sequential requests a case")
    parser.add_argument("--seconds", type=float, default=10, help="items load per server")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--export-runs", type=int, default=3, help="exports of each format (0: none)"
    )
    args = parser.parse_args()
    db = args.db or f"foncier_scale_{args.parcels}"
    url = get_settings().url_for(db)
    rows: list[Row] = []
    load = not (args.skip_import or args.reuse)
    if load:
        started = time.perf_counter()
        directory = france.generate(args.parcels)
        files = france.files(directory)
        size = sum(p.stat().st_size for p in files)
        print(f"input: {directory}, {len(files)} files, {size / 1e6:,.0f} MB "
              f"(ready in {time.perf_counter() - started:.1f} s)", flush=True)  # fmt: skip
        url = fresh_database(db)
        load_admin(make_engine(url), PROJECT_DIR / "data" / "admin")
        rows += import_rows(db, url, files, args.parcels, not args.skip_ogr2ogr)
        print(f"imported: {rows[-1].ours}; {rows[-1].peer}", flush=True)
        draw_overlays(make_engine(url), db, PLU_GRID + SPARSE_OVERLAYS)
    else:
        migrate(url=url)
    places = territories(db)
    print(
        f"territories: commune {places.commune}, EPCI {places.epci}, "
        f"département {places.departement}, table {places.total:,}",
        flush=True,
    )
    rows += refresh_rows(url, places.commune, full=not args.reuse)
    print(f"refreshed: {rows[-1].ours}", flush=True)
    rows += http_rows(
        db, url, places, args.requests, args.seconds, args.clients, not args.skip_tipg
    )
    rows += size_rows(db, places.total)
    print()
    print(table(rows, places.total))
    print()
    print("The densest tiles, cold, warm and after a refresh (bench.tiles):")
    print("\n".join(bench.tiles.measure(url, args.requests, not args.skip_tipg)))
    if args.export_runs:
        print()
        print("Exports against ogr2ogr (bench.export):")
        for line in export_lines(db, url, args.export_runs):
            print(line, flush=True)


# the size of the export the issue measures against ogr2ogr
EXPORT_PARCELS = 100_000


def export_lines(db: str, url: str, runs: int) -> Generator[str, None, None]:
    """Exports of the département or EPCI whose parcels are nearest 100,000 (excluded ones
    included: at 1 M no territory ranks that many), each format against ogr2ogr
    (bench.export.compare), on a server of its own."""
    with psycopg.connect(conninfo(db)) as conn:
        level, code, n = conn.execute(
            "SELECT level, code, n FROM ("
            " SELECT 'departement' AS level, departement_code AS code, count(*) AS n"
            " FROM parcel_score WHERE profile = %(p)s GROUP BY 2"
            " UNION ALL SELECT 'epci', epci_siren, count(*)"
            " FROM parcel_score WHERE profile = %(p)s AND epci_siren IS NOT NULL GROUP BY 2) t"
            " ORDER BY abs(n - %(target)s), level, code LIMIT 1",
            {"p": DEFAULT_PROFILE, "target": EXPORT_PARCELS},
        ).fetchone()  # type: ignore[misc]
    temporary = tempfile.mkdtemp(prefix="bench-export-")
    server = start("foncier-export", sys.executable, "app.api.main:app",
                   {"FONCIER_DATABASE_URL": url, "TMPDIR": temporary})  # fmt: skip
    try:
        yield f"{level} {code}: {n:,} parcels; server peak after start " + (
            f"{bench.export.peak_mb(server.process.pid):.0f} MB"
        )
        filters = Filters(include_excluded=True, **{level: code})
        yield from bench.export.compare(
            server.base, db, filters, server.process.pid, runs, ["csv", "gpkg", "geojson"]
        )
    finally:
        server.stop()
        shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    main()
