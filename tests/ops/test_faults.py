"""Faults (issue 7): the database restarted under a running service, an import killed
midway, two import processes racing on the same file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, text

from app.db import migrate
from app.localdb.cluster import LocalCluster
from app.settings import PROJECT_DIR
from geo.ingest.cadastre import load_cadastre
from tests.helpers import CADASTRE_91216, engine_for, running_server

FONCIER = [sys.executable, "-m", "app.cli"]
PROBLEM = "application/problem+json"


def test_database_restart_gives_503_then_recovers_without_restarting_the_service(
    throwaway_cluster: LocalCluster, tmp_path: Path
) -> None:
    cluster = throwaway_cluster
    cluster.start(echo=lambda _m: None)
    url = f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/{cluster.db_name}"
    migrate(url=url)
    engine = engine_for(url)
    load_cadastre(engine, CADASTRE_91216)
    engine.dispose()
    with running_server(url, tmp_path / "uvicorn.log") as base, httpx.Client() as http:
        assert http.get(f"{base}/parcels?limit=5").status_code == 200

        cluster.stop(echo=lambda _m: None)
        for path in ("/parcels?limit=5", "/health", "/collections/parcels/items?limit=5"):
            t0 = time.perf_counter()
            down = http.get(f"{base}{path}", timeout=30)
            assert time.perf_counter() - t0 < 6  # connect_timeout, never a hung worker
            assert down.status_code == 503, (path, down.text)
            assert down.headers["content-type"] == PROBLEM
            assert down.headers["retry-after"] == "5"
        # requests that need no database are still served
        assert http.get(f"{base}/conformance").status_code == 200

        cluster.start(echo=lambda _m: None)
        deadline = time.monotonic() + 20
        while http.get(f"{base}/parcels?limit=5").status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover"
            time.sleep(0.2)
        for _ in range(20):  # every pooled connection was replaced, none is stale
            assert http.get(f"{base}/parcels?limit=5").status_code == 200
        assert http.get(f"{base}/health").json()["database"] == "ok"


def cluster_pids(cluster: LocalCluster) -> list[int]:
    """The postmaster of ``cluster`` (from its own data directory) and its children."""
    postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            children.append(int(stat.parent.name))
    return [postmaster, *children]


def test_a_frozen_database_gives_503_within_seconds_then_recovers(
    throwaway_cluster: LocalCluster, tmp_path: Path
) -> None:
    """The database's processes stopped (SIGSTOP: the kernel still accepts and acknowledges,
    nothing answers): /health answers 503 within seconds, a request on the service's pool
    within its ping and connect timeouts, and both recover when it resumes."""
    cluster = throwaway_cluster
    cluster.start(echo=lambda _m: None)
    assert cluster.port != 55432 and ".pgdata" not in str(cluster.data_dir)  # never the shared one
    url = f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/{cluster.db_name}"
    migrate(url=url)
    with running_server(url, tmp_path / "uvicorn.log") as base, httpx.Client() as http:
        for _ in range(3):  # pooled connections, idle, that the freeze will find
            assert http.get(f"{base}/parcels?limit=1").status_code == 200
            assert http.get(f"{base}/health").status_code == 200
        pids = cluster_pids(cluster)
        assert len(pids) > 3
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            for path, within in (("/health", 5), ("/health", 5), ("/parcels?limit=1", 9)):
                t0 = time.perf_counter()
                frozen = http.get(f"{base}{path}", timeout=30)
                took = time.perf_counter() - t0
                assert frozen.status_code == 503, (path, frozen.text)
                assert frozen.headers["content-type"] == PROBLEM
                print(f"{path}: {frozen.status_code} in {took:.2f} s")
                assert took < within, (path, took)
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + 20
        while http.get(f"{base}/health", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover"
            time.sleep(0.2)
        for _ in range(5):
            assert http.get(f"{base}/parcels?limit=1").status_code == 200


def replicated_cadastre(path: Path, copies: int) -> int:
    """The 91216 parcels ``copies`` times under distinct prefixes (and offsets)."""
    features = json.loads(CADASTRE_91216.read_bytes())["features"]
    with path.open("w") as out:
        out.write('{"type":"FeatureCollection","features":[\n')
        for k in range(copies):
            for i, f in enumerate(features):
                props = dict(f["properties"], prefixe=f"{k:03d}")
                props["id"] = props["commune"] + props["prefixe"] + props["id"][8:]
                rings = [
                    [[x + 0.05 * k, y] for x, y in ring] for ring in f["geometry"]["coordinates"]
                ]
                feature = {"type": "Feature", "properties": props,
                           "geometry": {"type": "Polygon", "coordinates": rings}}  # fmt: skip
                sep = ",\n" if k or i else ""
                out.write(sep + json.dumps(feature, separators=(",", ":")))
        out.write("\n]}\n")
    return copies * len(features)


def parcel_tables(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT relname FROM pg_class WHERE relname LIKE 'parcel%' ORDER BY 1")
            ).scalars()
        )


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(text("SELECT count(*) FROM parcel")).scalar_one(),
            conn.execute(text("SELECT count(*) FROM import_run")).scalar_one(),
        )


@pytest.mark.slow
def test_an_import_killed_midway_leaves_nothing_and_can_be_rerun(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    big = tmp_path / "cadastre-x25.json"
    expected = replicated_cadastre(big, 25)
    tables_before = parcel_tables(fresh_engine)
    parcels_before, runs_before = counts(fresh_engine)  # the template's admin import
    assert parcels_before == 0
    url = fresh_engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "FONCIER_DATABASE_URL": url}
    loader = subprocess.Popen(
        [*FONCIER, "import", "cadastre", str(big)],
        env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    # Kill it while rows are streaming into the server.
    dbname = fresh_engine.url.database
    conninfo = f"host=127.0.0.1 port={fresh_engine.url.port} user=postgres dbname=postgres"
    deadline = time.monotonic() + 60
    with psycopg.connect(conninfo, autocommit=True) as watch:
        while not watch.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND query ILIKE 'COPY%%'",
            (dbname,),
        ).fetchone():
            assert loader.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.3)
        loader.send_signal(signal.SIGKILL)
        assert loader.wait() == -signal.SIGKILL
        # the server rolls back as soon as it notices its client is gone
        while watch.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND query ILIKE 'COPY%%'",
            (dbname,),
        ).fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.05)

    assert counts(fresh_engine) == (0, runs_before)
    assert parcel_tables(fresh_engine) == tables_before  # no partition left behind

    rerun = subprocess.run(
        [*FONCIER, "import", "cadastre", str(big)],
        env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert counts(fresh_engine) == (expected, runs_before + 1)


@pytest.mark.slow
def test_two_import_processes_of_the_same_file_do_not_duplicate(fresh_engine: Engine) -> None:
    url = fresh_engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "FONCIER_DATABASE_URL": url}
    runs_before = counts(fresh_engine)[1]
    loaders = [
        subprocess.Popen(
            [*FONCIER, "import", "cadastre", str(CADASTRE_91216)],
            env=env,
            cwd=PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in loaders]
    assert [p.returncode for p in loaders] == [0, 0], outputs
    assert counts(fresh_engine) == (4241, runs_before + 2)
    with fresh_engine.connect() as conn:
        distinct = conn.execute(text("SELECT count(DISTINCT id) FROM parcel")).scalar_one()
    assert distinct == 4241
