"""Cadastre import throughput: Foncier's loader against ogr2ogr, same file, same PostGIS.

    .venv/bin/python -m bench.import_cadastre [--copies 120]

The input is the real 91216 file (4,241 parcels) replicated with coordinate offsets
and a distinct cadastre ``prefixe`` per copy, so ids stay unique and well formed
(120 copies = 508,920 parcels, ~260 MB of GeoJSON, one feature per line as Etalab
writes it). Each tool runs in a child process measured with wait4(): wall time and
peak resident memory. ogr2ogr (Debian ``gdal-bin``) reprojects to EPSG:2154 and
uses COPY (``PG_USE_COPY=YES``), like our loader.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from app.db import migrate
from app.settings import PROJECT_DIR, get_settings

SOURCE = PROJECT_DIR / "data" / "cadastre" / "cadastre-91216-parcelles.json"
OUT = PROJECT_DIR / "bench" / "out"
BENCH_DB = "foncier_bench_import"
GRID = 11  # copies are laid out on an 11×11 grid of commune-sized steps
STEP = 0.06  # degrees; the commune spans ~0.05°


def build_input(copies: int, communes: list[str] | None = None) -> Path:
    """The 91216 parcels ``copies`` times; copy k is filed under ``communes[k % n]``
    (all under 91216 by default) with prefixe k, so ids stay unique and well formed."""
    suffix = f"-{len(communes)}communes" if communes else ""
    path = OUT / f"cadastre-x{copies}{suffix}.json"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    features = json.loads(SOURCE.read_bytes())["features"]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as out:
        out.write('{"type":"FeatureCollection","features":[\n')
        first = True
        for k in range(copies):
            dx, dy = (k % GRID) * STEP, (k // GRID) * STEP
            prefixe = f"{k:03d}"
            commune = communes[k % len(communes)] if communes else "91216"
            for f in features:
                props = dict(f["properties"], prefixe=prefixe, commune=commune)
                props["id"] = commune + prefixe + props["id"][8:]
                rings = [
                    [[round(x + dx, 7), round(y + dy, 7)] for x, y in ring]
                    for ring in f["geometry"]["coordinates"]
                ]
                feature = {
                    "type": "Feature",
                    "id": props["id"],
                    "geometry": {"type": "Polygon", "coordinates": rings},
                    "properties": props,
                }
                out.write(("" if first else ",\n") + json.dumps(feature, separators=(",", ":")))
                first = False
        out.write("\n]}\n")
    tmp.rename(path)
    return path


def conninfo(dbname: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(get_settings().url_for(dbname))
    return f"host={url.host} port={url.port} user={url.username} dbname={dbname}" + (
        f" password={url.password}" if url.password else ""
    )


def fresh_database(db: str = BENCH_DB) -> str:
    """``db`` dropped, created and migrated; its URL."""
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        ident = sql.Identifier(db)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    url = get_settings().url_for(db)
    migrate(url=url)
    return url


# A child's ru_maxrss includes its parent's peak at fork time (Linux carries the memory
# high-water mark across fork and exec: /bin/true forked by a 500 MB process reports
# 568 MB), so each tool is started by this small launcher (~5 MB), which reports the
# tool's own figure on its last line of stderr.
_LAUNCHER = """import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"\\nmaxrss_kb={usage.ru_maxrss}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measure(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-S", "-c", _LAUNCHER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env or os.environ.copy(),
    )
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    text, _, peak = err.decode().rstrip().rpartition("\nmaxrss_kb=")
    if proc.returncode != 0 or not peak.isdigit():
        sys.exit(f"{args[0]} failed: {text[-2000:]}")
    return elapsed, int(peak) / 1024, out.decode()


def count(table: str) -> int:
    with psycopg.connect(conninfo(BENCH_DB)) as conn:
        return conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=120, help="copies of the 4,241 parcels")
    args = parser.parse_args()

    path = build_input(args.copies)
    size_mb = path.stat().st_size / 1e6
    print(f"input: {path} ({size_mb:.0f} MB)")
    url = fresh_database()

    env = {**os.environ, "FONCIER_DATABASE_URL": url}
    ours_s, ours_mb, out = measure(
        [sys.executable, "-m", "app.cli", "import", "cadastre", str(path)], env
    )
    parcels = count("parcel")
    print(out.strip().splitlines()[-1].strip())

    ogr2ogr = shutil.which("ogr2ogr")
    if ogr2ogr is None:
        print(
            f"foncier: {parcels} parcels in {ours_s:.1f} s = {parcels / ours_s:,.0f} parcels/s, "
            f"peak memory {ours_mb:.0f} MB"
        )
        sys.exit("ogr2ogr not found: apt-get install gdal-bin, then run again for the ratio")
    ogr_s, ogr_mb, _ = measure(
        [
            ogr2ogr,
            "-f",
            "PostgreSQL",
            f"PG:{conninfo(BENCH_DB)}",
            str(path),
            "-nln",
            "parcel_ogr",
            "-t_srs",
            "EPSG:2154",
            "-nlt",
            "MULTIPOLYGON",
            "-lco",
            "GEOMETRY_NAME=geom",
            "-overwrite",
        ],
        {**os.environ, "PG_USE_COPY": "YES"},
    )
    ogr_parcels = count("parcel_ogr")

    print(f"{'tool':<10}{'parcels':>10}{'seconds':>10}{'parcels/s':>12}{'peak MB':>10}")
    for name, n, s, mb in (
        ("foncier", parcels, ours_s, ours_mb),
        ("ogr2ogr", ogr_parcels, ogr_s, ogr_mb),
    ):
        print(f"{name:<10}{n:>10,}{s:>10.1f}{n / s:>12,.0f}{mb:>10.0f}")
    print(f"throughput ratio foncier/ogr2ogr: {(parcels / ours_s) / (ogr_parcels / ogr_s):.2f}x")


if __name__ == "__main__":
    main()
