"""OGC API - Features throughput against tipg, and vector tile latency (issue 6).

    ./dev demo && .venv/bin/python -m bench.features [--seconds 10] [--clients 8]

Against the database the settings point at (the demo base by default):

1. this service and tipg (installed by this script in bench/out/tipg-venv from PyPI) run
   side by side under uvicorn, one worker each, on the same database; the same seeded
   sequence of `items?limit=100&bbox=…` requests (about 400 m boxes, each centred on a
   parcel drawn at random: boxes over the extent of all loaded parcels, which spans
   several départements, were mostly empty) is replayed by N client threads for a fixed
   time against each, alternately, twice; requests/s and latency percentiles are printed,
   with the features per answer, and the throughput ratio;
2. at z12-z16, the tiles under parcels drawn at random (at most 300 per zoom) are requested
   once, then measured over several passes, sequentially, with gzip as a browser asks;
   the features per tile are printed beside the figures (the tiles are served from
   Foncier's tile cache after the first pass: bench/tiles.py measures cold tiles);
3. (--cql2) CQL2 filters against the same selection by plain parameters (issue 18: the
   CQL2 p95 within 1.2x of the plain one), and tipg's CQL2 on the same table: a section
   (`?section=AB` / `filter=section='AB'`), a bbox (`bbox=` / `S_INTERSECTS(geometry,
   BBOX(…))`), and a score range (`score BETWEEN a AND b`, which no plain parameter can
   say: printed beside the section filter's figures).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import mapbox_vector_tile
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.settings import PROJECT_DIR, get_settings

OUT = PROJECT_DIR / "bench" / "out"
TIPG_VENV = OUT / "tipg-venv"


def ensure_tipg() -> Path:
    python = TIPG_VENV / "bin" / "python"
    if not python.exists():
        print("installing tipg in", TIPG_VENV, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "tipg", "uvicorn"],
            check=True,
            stderr=subprocess.DEVNULL,
        )
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    base: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start(name: str, python: str, module: str, env: dict[str, str], workers: int = 1) -> Server:
    """uvicorn serving ``module`` on a free loopback port, once it answers /conformance."""
    port = free_port()
    process = subprocess.Popen(
        [python, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", "--workers", str(workers)],
        cwd=PROJECT_DIR, env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/conformance", timeout=2).raise_for_status()
            return Server(name, base, process)
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start") from None
            time.sleep(0.3)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(q * len(ordered))) - 1)]


def hammer(urls: list[str], clients: int, seconds: float) -> tuple[int, list[float], int]:
    """Closed loop: each client sends its next request when the previous one is answered."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(offset: int) -> None:
        nonlocal errors
        mine: list[float] = []
        failed = 0
        with httpx.Client(timeout=30, headers={"Accept-Encoding": "gzip"}) as http:
            i = offset
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                response = http.get(urls[i % len(urls)])
                mine.append(time.perf_counter() - t0)
                failed += response.status_code != 200
                i += clients
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies), latencies, errors


# Parcels drawn at random (repeatably), their point on surface in WGS84.
_SAMPLE = """
SELECT ST_X(c), ST_Y(c) FROM (
    SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS c FROM parcel
    TABLESAMPLE BERNOULLI (least(100, 100.0 * %(n)s * 4 / greatest(
        (SELECT sum(greatest(reltuples, 0)) FROM pg_class c JOIN pg_inherits i
         ON i.inhrelid = c.oid AND i.inhparent = 'parcel'::regclass), 1)))
    REPEATABLE (%(seed)s)
) s LIMIT %(n)s
"""


def parcel_points(db_url: str, n: int, seed: int = 7) -> list[tuple[float, float]]:
    """``n`` (lon, lat) points on parcels drawn at random, the same ones at every run."""
    url = make_url(db_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        points = conn.execute(_SAMPLE, {"n": n, "seed": seed}).fetchall()
    random.Random(seed).shuffle(points)
    return [(float(x), float(y)) for x, y in points]


def boxes_around(points: list[tuple[float, float]]) -> list[str]:
    half = 0.0025  # degrees: boxes of ~370 m by ~560 m at 48.7°N
    return [f"{x - half:.5f},{y - half:.5f},{x + half:.5f},{y + half:.5f}" for x, y in points]


def features_per_answer(urls: list[str]) -> float:
    """The mean number of features of the answers to ``urls`` (GeoJSON)."""
    with httpx.Client(timeout=60) as http:
        return statistics.mean(len(http.get(u).json()["features"]) for u in urls)


def bbox_urls(extent: list[float], n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    minx, miny, maxx, maxy = extent
    size = 0.005  # degrees: ~370 m by ~560 m at 48.7°N
    boxes = []
    for _ in range(n):
        x = rng.uniform(minx, maxx - size)
        y = rng.uniform(miny, maxy - size)
        boxes.append(f"{x:.5f},{y:.5f},{x + size:.5f},{y + size:.5f}")
    return boxes


def features_benchmark(db_url: str, seconds: float, clients: int) -> None:
    tipg_python = ensure_tipg()
    url = make_url(db_url)
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    ours = start("foncier", sys.executable, "app.api.main:app", {"FONCIER_DATABASE_URL": db_url})
    tipg = start(
        "tipg",
        str(tipg_python),
        "tipg.main:app",
        {"DATABASE_URL": libpq, "TIPG_DB_SCHEMAS": '["public"]'},
    )
    try:
        boxes = boxes_around(parcel_points(db_url, 400))
        paths = {
            "foncier": [f"{ours.base}/collections/parcels/items?limit=100&bbox={b}" for b in boxes],
            "tipg": [
                f"{tipg.base}/collections/public.parcel/items?limit=100&bbox={b}" for b in boxes
            ],
        }
        # Same work: the features each returns per box. tipg tests the box against the
        # parcels' bounding boxes only, so it may return a few more.
        returned = {name: features_per_answer(paths[name]) for name in paths}
        print(
            "features per answer (mean over the boxes): "
            + ", ".join(f"{name} {mean:.1f}" for name, mean in returned.items())
        )
        print(
            f"items?limit=100&bbox (400 boxes ~400 m), {clients} client threads, "
            f"{seconds:.0f} s per round, uvicorn 1 worker each"
        )
        print(f"{'server':<10}{'round':>6}{'requests':>10}{'req/s':>9}{'p50 ms':>9}"
              f"{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'features':>9}")  # fmt: skip
        rates: dict[str, list[float]] = {"foncier": [], "tipg": []}
        for round_ in (1, 2):
            for name in ("foncier", "tipg"):
                hammer(paths[name][:50], clients, 2)  # warm-up
                n, lat, errors = hammer(paths[name], clients, seconds)
                rates[name].append(n / seconds)
                print(
                    f"{name:<10}{round_:>6}{n:>10}{n / seconds:>9.1f}"
                    f"{1000 * percentile(lat, 0.5):>9.1f}{1000 * percentile(lat, 0.95):>9.1f}"
                    f"{1000 * percentile(lat, 0.99):>9.1f}{errors:>8}{returned[name]:>9.1f}"
                )
        ratio = statistics.mean(rates["foncier"]) / statistics.mean(rates["tipg"])
        print(f"throughput ratio foncier/tipg: {ratio:.2f}x")
    finally:
        ours.stop()
        tipg.stop()


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def tiles_under(points: list[tuple[float, float]], z: int) -> list[tuple[int, int, int]]:
    """The distinct z tiles under ``points`` (at most 300), in the points' order."""
    return list(dict.fromkeys(tile_of(lon, lat, z) for lon, lat in points))[:300]


def tiles_benchmark(db_url: str, rounds: int) -> None:
    ours = start("foncier", sys.executable, "app.api.main:app", {"FONCIER_DATABASE_URL": db_url})
    try:
        points = parcel_points(db_url, 2000, seed=13)
        print("parcel tiles under parcels drawn at random, sequential, gzip")
        print(
            f"{'zoom':<6}{'tiles':>6}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
            f"{'mean KB':>9}{'features':>9}"
        )
        with httpx.Client(timeout=30, headers={"Accept-Encoding": "gzip"}) as http:
            for z in range(12, 17):
                tiles = tiles_under(points, z)
                urls = [f"{ours.base}/tiles/parcels/{z}/{x}/{y}.mvt" for z, x, y in tiles]
                features = []
                for u in urls:
                    body = http.get(u).content
                    layers = mapbox_vector_tile.decode(body) if body else {}
                    features.append(len(layers.get("parcels", {}).get("features", [])))
                lat, sizes = [], []
                for _ in range(rounds):
                    for u in urls:
                        t0 = time.perf_counter()
                        r = http.get(u)
                        lat.append(time.perf_counter() - t0)
                        sizes.append(int(r.headers.get("content-length", 0)))
                print(
                    f"z{z:<5}{len(urls):>6}{len(lat):>9}{1000 * percentile(lat, 0.5):>9.1f}"
                    f"{1000 * percentile(lat, 0.95):>9.1f}{1000 * max(lat):>9.1f}"
                    f"{statistics.mean(sizes) / 1024:>9.1f}{statistics.mean(features):>9.1f}"
                )
    finally:
        ours.stop()


def cql2_benchmark(db_url: str, seconds: float, clients: int) -> None:
    tipg_python = ensure_tipg()
    url = make_url(db_url)
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    ours = start("foncier", sys.executable, "app.api.main:app", {"FONCIER_DATABASE_URL": db_url})
    tipg = start(
        "tipg",
        str(tipg_python),
        "tipg.main:app",
        {"DATABASE_URL": libpq, "TIPG_DB_SCHEMAS": '["public"]'},
    )
    try:
        boxes = boxes_around(parcel_points(db_url, 200, seed=11))
        engine = create_engine(db_url)
        with engine.connect() as conn:
            # one section per parcel: common sections are asked for more often
            sections = list(conn.execute(text("SELECT section FROM parcel")).scalars())
        engine.dispose()
        rng = random.Random(5)
        picked = [rng.choice(sections) for _ in range(200)]
        ranges = [(lo, lo + 10) for lo in (rng.randrange(0, 90) for _ in range(200))]
        items = f"{ours.base}/collections/parcels/items?limit=100"
        tipg_items = f"{tipg.base}/collections/public.parcel/items?limit=100"
        cases = {
            "section plain": [f"{items}&section={s}" for s in picked],
            "section cql2": [f"{items}&filter=section='{s}'" for s in picked],
            "section tipg cql2": [
                f"{tipg_items}&filter-lang=cql2-text&filter=section='{s}'" for s in picked
            ],
            "bbox plain": [f"{items}&bbox={b}" for b in boxes],
            "bbox cql2": [f"{items}&filter=S_INTERSECTS(geometry,BBOX({b}))" for b in boxes],
            "bbox tipg cql2": [
                f"{tipg_items}&filter-lang=cql2-text&filter=S_INTERSECTS(geom,BBOX({b}))"
                for b in boxes
            ],
            "score range cql2": [
                f"{items}&filter=score BETWEEN {lo} AND {hi}" for lo, hi in ranges
            ],
        }
        for name, urls in cases.items():
            check = httpx.get(urls[0], timeout=30)
            if check.status_code != 200:
                raise RuntimeError(f"{name}: {check.status_code} {check.text[:300]}")
        print(
            f"parcels items?limit=100, {clients} client threads, {seconds:.0f} s per case "
            "and round, uvicorn 1 worker each"
        )
        print(f"{'case':<20}{'round':>6}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
              f"{'errors':>8}")  # fmt: skip
        p95: dict[str, list[float]] = {name: [] for name in cases}
        for round_ in (1, 2):
            for name, urls in cases.items():
                hammer(urls[:20], clients, 1)  # warm-up
                n, lat, errors = hammer(urls, clients, seconds)
                p95[name].append(1000 * percentile(lat, 0.95))
                print(
                    f"{name:<20}{round_:>6}{n:>10}{n / seconds:>9.1f}"
                    f"{1000 * percentile(lat, 0.5):>9.1f}{p95[name][-1]:>9.1f}{errors:>8}"
                )
        for what in ("section", "bbox"):
            ratio = statistics.mean(p95[f"{what} cql2"]) / statistics.mean(p95[f"{what} plain"])
            print(f"p95 ratio {what} cql2/plain: {ratio:.2f}x (target <= 1.2x)")
        ratio = statistics.mean(p95["score range cql2"]) / statistics.mean(p95["section plain"])
        print(f"p95 ratio score range cql2 / section plain: {ratio:.2f}x")
    finally:
        ours.stop()
        tipg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--tile-rounds", type=int, default=5, help="measured passes per zoom")
    parser.add_argument("--skip-tipg", action="store_true")
    parser.add_argument("--cql2", action="store_true", help="only the CQL2 filter benchmark")
    args = parser.parse_args()
    db_url = get_settings().url_for()
    if args.cql2:
        cql2_benchmark(db_url, args.seconds, args.clients)
        return
    if not args.skip_tipg:
        features_benchmark(db_url, args.seconds, args.clients)
        print()
    tiles_benchmark(db_url, args.tile_rounds)


if __name__ == "__main__":
    main()
