"""Exports at scale: ~100,000 ranked parcels as CSV, GeoJSON and GeoPackage over HTTP,
with the time to the first byte (the export is written before it is sent), the server's
CPU seconds and its peak memory after each (memory must not grow with the rows).

    .venv/bin/python -m bench.export [--copies 23] [--reuse] [--database NAME]
    .venv/bin/python -m bench.export --reuse --clients 30     # hostile clients, see below

The input is the real 91216 parcels replicated with offsets under the Essonne's communes
(bench.scoring's method), scored; the export is /parcels/search?departement=91&format=….

Each format is timed ``--runs`` times, alternating with ``ogr2ogr`` writing the same
parcels from the same database to the same format, twice: with the export's own query
(the same rows and columns, ``geo.scoring.export``: what "0.8× ogr2ogr" compares) and with
issue 33's id, commune, area and geometry. Printed per run: wall seconds, the server's
(or ogr2ogr's) CPU seconds, and Foncier's throughput as a share of ogr2ogr's.

``--clients N``: N export clients at once instead (no token, 10 client addresses through
X-Forwarded-For, which uvicorn trusts from the loopback), half reading 4 KB every half
second for 20 s, half dropping after a second, each retrying twice after a 429's
Retry-After; /health probed meanwhile. Printed: statuses, slowest /health, sessions left
on the database, temporary export files left, server peak memory. The suite runs the
same on the 4,241-parcel commune (tests/api/test_export_load.py).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Generator
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from sqlalchemy import text

from app.db import make_engine, migrate
from app.settings import PROJECT_DIR, get_settings
from bench.import_cadastre import build_input, conninfo
from bench.scoring import essonne_communes, free_port
from geo.ingest.admin import load_admin
from geo.ingest.cadastre import load_cadastre
from geo.scoring.profiles import DEFAULT_PROFILE
from geo.scoring.refresh import refresh_scores
from geo.scoring.search import Filters

DB = "foncier_bench_export"


def peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=23, help="copies of the 4,241 parcels")
    parser.add_argument("--reuse", action="store_true", help="keep a previous run's database")
    parser.add_argument("--database", default=DB, help="database name (created, or reused)")
    parser.add_argument("--clients", type=int, default=0, help="hostile clients at once")
    parser.add_argument("--runs", type=int, default=3, help="runs of each format")
    parser.add_argument("--formats", default="csv,gpkg,geojson", help="formats to time")
    args = parser.parse_args()
    db = args.database
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
        load_admin(engine, PROJECT_DIR / "data" / "admin")
        load_cadastre(engine, path)
        refresh_scores(engine)
        engine.dispose()
    port = free_port()
    temporary = tempfile.mkdtemp(prefix="bench-export-")
    env = {**os.environ, "FONCIER_DATABASE_URL": url, "TMPDIR": temporary}
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
        if args.clients:
            hostile(base, "/parcels/search?departement=91&format=", args.clients, db)
            left = [p for p in Path(temporary).rglob("foncier-export-*") if p.is_file()]
            print(f"temporary export files left: {len(left)}")
            print(f"server peak memory: {peak_mb(server.pid):.0f} MB")
            return
        print(f"server peak after start: {peak_mb(server.pid):.0f} MB")
        for line in compare(base, db, Filters(departement="91"), server.pid, args.runs,
                            args.formats.split(",")):  # fmt: skip
            print(line, flush=True)
    finally:
        server.terminate()
        server.wait()


HEADER = (
    f"{'format':<8} {'run':>3} {'MB sent':>8} {'1st byte s':>10} {'seconds':>8} "
    f"{'server CPU s':>12} {'peak MB after':>14} {'ogr2ogr s':>9} {'its CPU s':>9} "
    f"{'ratio':>6} {'ogr2ogr 4 cols s':>16}"
)


def compare(
    base: str, db: str, filters: Filters, server_pid: int, runs: int, formats: list[str]
) -> Generator[str, None, None]:
    """Lines of a table: each format exported ``runs`` times by the server at ``base``
    (``/parcels/search`` with ``filters``' territory), each followed by ogr2ogr writing the
    same parcels from the same database to the same format (the export's own query, then
    id, commune, area and geometry only). Yields the matches first, then the header."""
    query = "&".join(
        f"{k}={v}" for k, v in (("commune", filters.commune), ("epci", filters.epci),
                                ("departement", filters.departement)) if v
    ) + ("&include_excluded=true" if filters.include_excluded else "")  # fmt: skip
    search = f"{base}/parcels/search?{query}"
    with httpx.Client(timeout=600) as client:
        client.get(f"{search}&limit=1").raise_for_status()
        # Counted here, not read from an answer: a search leaves numberMatched out when
        # its count outlasts FONCIER_COUNT_BUDGET_MS (geo/db/count.py).
        engine = make_engine(get_settings().url_for(db))
        with engine.connect() as conn:
            clauses, params = filters.territory_sql("s", "commune_insee", "NULL")
            kept = [] if filters.include_excluded else ["NOT s.excluded"]
            where = " AND ".join(["s.profile = :profile", *kept, *clauses])
            matched = conn.execute(
                text(f"SELECT count(*) FROM parcel_score s WHERE {where}"),
                {**params, "profile": DEFAULT_PROFILE},
            ).scalar_one()
        engine.dispose()
        yield f"parcels matched ({query}): {matched:,}"
        yield HEADER
        peers = ogr2ogr_queries(db, filters)
        for run in range(1, runs + 1):
            for fmt in formats:
                started = time.perf_counter()
                cpu = cpu_seconds(server_pid)
                size = 0
                # identity: the bytes as the export writes them, not gzip's
                headers = {"Accept-Encoding": "identity"}
                with client.stream("GET", f"{search}&format={fmt}", headers=headers) as response:
                    response.raise_for_status()
                    first = None
                    for chunk in response.iter_raw():
                        first = first or time.perf_counter() - started
                        size += len(chunk)
                elapsed = time.perf_counter() - started
                line = (
                    f"{fmt:<8} {run:>3} {size / 1e6:>8.1f} {first or 0:>10.1f} "
                    f"{elapsed:>8.1f} {cpu_seconds(server_pid) - cpu:>12.1f} "
                    f"{peak_mb(server_pid):>14.0f}"
                )
                if fmt in peers:
                    same, same_cpu = ogr2ogr(db, fmt, peers[fmt][0])
                    four, _ = ogr2ogr(db, fmt, peers[fmt][1])
                    line += f" {same:>9.1f} {same_cpu:>9.1f} {same / elapsed:>6.2f} {four:>16.1f}"
                yield line


def ogr2ogr_queries(db: str, filters: Filters) -> dict[str, tuple[str, str]]:
    """Per format, the SQL ogr2ogr runs: the export's own query (parameters bound), and
    issue 33's id, commune, area and geometry of the same parcels, in the same order."""
    import dataclasses

    from sqlalchemy import text

    from app.services.crs import DEFAULT, STORAGE
    from geo.scoring.export import parcel_table
    from geo.scoring.profiles import get_profile

    engine = make_engine(get_settings().url_for(db))
    crs = dataclasses.replace(STORAGE, lat_first=False)
    with engine.connect() as conn, psycopg.connect(conninfo(db)) as raw:
        table = parcel_table(conn, get_profile(None), filters, crs=crs)
        # GeoJSON's rows in its own CRS (RFC 7946: longitude, latitude, 6 decimals)
        lonlat = parcel_table(conn, get_profile(None), filters, crs=DEFAULT)

        def bound(query: str) -> str:
            compiled = str(text(query).compile(dialect=conn.dialect))
            return psycopg.ClientCursor(raw).mogrify(compiled, table.params)

        four = ['s.parcel_id AS "id"', 's.commune_insee AS "commune"', 'f.area_ha AS "area_ha"']
        # the export's FROM and order, fewer columns
        queries = {
            "csv": (bound(table.csv_sql()), bound(table._sql(four, True))),  # noqa: SLF001
            "gpkg": (
                bound(table.rows_sql(wkb=False)),
                bound(table._sql([*four, "p.geom AS geom"], True)),  # noqa: SLF001
            ),
            "geojson": (
                bound(lonlat.rows_sql(wkb=False)),
                bound(lonlat._sql([*four, "ST_Transform(p.geom, 4326) AS geom"], True)),  # noqa: SLF001
            ),
        }
    engine.dispose()
    return queries


def ogr2ogr(db: str, fmt: str, query: str) -> tuple[float, float]:
    """Wall and CPU seconds of ogr2ogr writing ``query``'s rows as ``fmt``."""
    import resource

    target = Path(tempfile.mkdtemp(prefix="bench-ogr2ogr-")) / f"parcels.{fmt}"
    driver = {
        "csv": ["-f", "CSV"],
        "gpkg": ["-f", "GPKG", "-nlt", "MULTIPOLYGON"],
        # RFC 7946 as the export writes it: lon/lat, 6 decimals, right-hand rings
        "geojson": ["-f", "GeoJSON", "-lco", "RFC7946=YES", "-lco", "COORDINATE_PRECISION=6"],
    }[fmt]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        ["ogr2ogr", *driver, str(target), f"PG:{conninfo(db)}", "-sql", query, "-nln", "parcels"],
        check=True,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    target.unlink()
    target.parent.rmdir()
    return elapsed, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def _request(base: str, path: str, client: str) -> tuple[socket.socket, int, dict[str, str]]:
    """An export requested on a raw socket with a small receive buffer (a slow reader)."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(600)
    sock.connect((host, int(port)))
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-For: {client}\r\n"
        "Accept-Encoding: identity\r\n\r\n".encode()
    )
    data = b""
    while b"\r\n\r\n" not in data and (chunk := sock.recv(4096)):
        data += chunk
    lines = data.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ln)}
    return sock, int(lines[0].split()[1]), headers


def hostile(base: str, path: str, clients: int, db: str) -> None:
    statuses: list[int] = []
    slowest = 0.0
    done = threading.Event()

    def client(n: int) -> None:
        fmt = ("csv", "geojson", "gpkg")[n % 3]
        for _ in range(3):
            sock, status, headers = _request(base, path + fmt, f"198.51.100.{n % 10}")
            statuses.append(status)
            if status != 429:
                break
            sock.close()
            time.sleep(int(headers["retry-after"]) + 2 * random.random())
        if status == 200:
            if n % 2:
                time.sleep(1)
            else:
                for _ in range(40):
                    sock.recv(4096)
                    time.sleep(0.5)
        sock.close()

    def probe() -> None:
        nonlocal slowest
        while not done.is_set():
            started = time.perf_counter()
            httpx.get(f"{base}/health", timeout=60).raise_for_status()
            slowest = max(slowest, time.perf_counter() - started)
            time.sleep(0.2)

    started = time.perf_counter()
    prober = threading.Thread(target=probe)
    prober.start()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    prober.join()
    time.sleep(2)
    with psycopg.connect(conninfo(db), autocommit=True) as conn:
        states = conn.execute(
            "SELECT coalesce(state, '?'), count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1"
        ).fetchall()
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    print(f"{clients} clients, {time.perf_counter() - started:.0f} s: statuses {counts}")
    print(f"slowest /health: {slowest:.2f} s; sessions after: {dict(states)}")


if __name__ == "__main__":
    main()
