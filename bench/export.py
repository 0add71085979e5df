"""Exports at scale: ~100,000 ranked parcels as CSV, GeoJSON and GeoPackage over HTTP,
with the server's peak memory before and after each (the exports are streamed: memory
must not grow with the rows).

    .venv/bin/python -m bench.export [--copies 23] [--reuse]

The input is the real 91216 parcels replicated with offsets under the Essonne's communes
(bench.scoring's method), scored; the export is /parcels/search?departement=91&format=….
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import httpx
import psycopg
from psycopg import sql

from app.db import make_engine, migrate
from app.settings import PROJECT_DIR, get_settings
from bench.import_cadastre import build_input, conninfo
from bench.scoring import essonne_communes, free_port
from geo.ingest.admin import load_admin
from geo.ingest.cadastre import load_cadastre
from geo.scoring.refresh import refresh_scores

DB = "foncier_bench_export"


def peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=23, help="copies of the 4,241 parcels")
    parser.add_argument("--reuse", action="store_true", help="keep a previous run's database")
    args = parser.parse_args()
    url = get_settings().url_for(DB)
    if not args.reuse:
        path = build_input(args.copies, essonne_communes())
        with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
        migrate(url=url)
        engine = make_engine(url)
        load_admin(engine, PROJECT_DIR / "data" / "admin")
        load_cadastre(engine, path)
        refresh_scores(engine)
        engine.dispose()
    port = free_port()
    env = {**os.environ, "FONCIER_DATABASE_URL": url}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.api.main:app", "--port", str(port)],
        env=env, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        search = f"{base}/parcels/search?departement=91"
        with httpx.Client(timeout=600) as client:
            page = client.get(f"{search}&limit=1").json()
            print(f"parcels matched: {page['numberMatched']:,}")
            print(f"server peak after start and one JSON page: {peak_mb(server.pid):.0f} MB")
            print(f"{'format':<8} {'MB sent':>8} {'seconds':>8} {'peak MB after':>14}")
            for fmt in ("csv", "geojson", "gpkg"):
                started = time.perf_counter()
                size = 0
                # identity: the bytes as the export writes them, not gzip's
                headers = {"Accept-Encoding": "identity"}
                with client.stream("GET", f"{search}&format={fmt}", headers=headers) as response:
                    response.raise_for_status()
                    for chunk in response.iter_raw():
                        size += len(chunk)
                elapsed = time.perf_counter() - started
                print(f"{fmt:<8} {size / 1e6:>8.1f} {elapsed:>8.1f} {peak_mb(server.pid):>14.0f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
