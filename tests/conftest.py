"""Test databases on a real PostGIS.

Once per run: a template database gets the migrations and the administrative
reference. Tests that write get a fresh clone of it (``fresh_engine``,
CREATE DATABASE … TEMPLATE takes ~0.1 s); read-only API tests share one clone
that also holds the 91216 cadastre (``api_client``).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.db import migrate
from app.settings import PROJECT_DIR, Settings
from geo.ingest.admin import load_admin
from geo.ingest.cadastre import load_cadastre

DATA = PROJECT_DIR / "data"
CADASTRE_91216 = DATA / "cadastre" / "cadastre-91216-parcelles.json"
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    settings = Settings()
    if settings.uses_embedded_db:
        # `./dev test` has started it; starting again is a no-op, and lets a bare
        # `pytest` work too.
        from app.localdb.cluster import LocalCluster

        LocalCluster.from_settings(settings).start(echo=lambda _msg: None)
    return settings


class Databases:
    """Creates and drops databases on the test server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = make_url(settings.url_for("postgres"))
        self.conninfo = psycopg.conninfo.make_conninfo(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password or "",
            dbname=url.database,
        )
        self.created: list[str] = []

    def url(self, name: str) -> str:
        return self.settings.url_for(name)

    def create(self, name: str, template: str | None = None) -> str:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                stmt += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(stmt)
        self.created.append(name)
        return self.url(name)

    def drop(self, name: str) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def drop_all(self) -> None:
        for name in reversed(self.created):
            self.drop(name)


def engine_for(url: str) -> Engine:
    # NullPool: no connection outlives its test, so the database can be dropped.
    return create_engine(url, poolclass=NullPool)


@pytest.fixture(scope="session")
def databases(base_settings: Settings) -> Iterator[Databases]:
    dbs = Databases(base_settings)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def template_db(databases: Databases) -> str:
    """Name of the template: schema plus the administrative reference."""
    name = f"foncier_test_template_{RUN_ID}"
    url = databases.create(name)
    migrate(url=url)  # the first migration creates the postgis extension
    engine = engine_for(url)
    load_admin(engine, DATA / "admin")
    engine.dispose()
    return name


@pytest.fixture
def fresh_engine(databases: Databases, template_db: str) -> Iterator[Engine]:
    """A private clone of the template for a test that writes."""
    name = f"foncier_test_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    engine = engine_for(databases.create(name, template=template_db))
    yield engine
    engine.dispose()
    databases.drop(name)


@pytest.fixture(scope="session")
def demo_db_url(databases: Databases, template_db: str) -> str:
    """A shared clone holding the demo data (91216 cadastre); tests must not write to it."""
    url = databases.create(f"foncier_test_demo_{RUN_ID}", template=template_db)
    engine = engine_for(url)
    load_cadastre(engine, CADASTRE_91216)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def api_client(base_settings: Settings, demo_db_url: str) -> Iterator[TestClient]:
    from app.api.main import create_app

    settings = base_settings.model_copy(update={"database_url": demo_db_url})
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


@pytest.fixture(scope="session")
def scored_db_url(databases: Databases, template_db: str) -> str:
    """A clone with the 91216 cadastre scored, and the consumption data for trajectories
    (what the map shows); tests must not write to it."""
    from geo.ingest.consumption import load_consumption
    from geo.scoring.refresh import refresh_scores

    url = databases.create(f"foncier_test_scored_{RUN_ID}", template=template_db)
    engine = engine_for(url)
    load_cadastre(engine, CADASTRE_91216)
    load_consumption(engine, DATA / "consommation" / "conso-naf-SYNTHETIQUE-2009-2023.csv")
    refresh_scores(engine)
    engine.dispose()
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The uvicorn process behind each base URL running_server yields (its memory is measured).
SERVERS: dict[str, subprocess.Popen] = {}


@contextlib.contextmanager
def running_server(db_url: str, log: Path, **env: str) -> Iterator[str]:
    """The service under uvicorn on a free loopback port, for real HTTP clients. The
    suite never reaches the internet: unless a test names its own, the page's basemap
    (IGN's, by default) is a loopback port where nothing listens."""
    port = free_port()
    nowhere = f"http://127.0.0.1:{free_port()}/{{z}}/{{x}}/{{y}}.png"
    basemap = {"FONCIER_BASEMAP_URL": nowhere, "FONCIER_BASEMAP_AERIAL_URL": nowhere}
    environ = {**os.environ, **basemap, "FONCIER_DATABASE_URL": db_url, **env}
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.api.main:app", "--host", "127.0.0.1",
             "--port", str(port)],
            cwd=PROJECT_DIR, env=environ, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start:\n{log.read_text()}")
            time.sleep(0.2)
        SERVERS[base] = server
        yield base
    finally:
        SERVERS.pop(base, None)
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(scored_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The scored demo base served by uvicorn (read-only: tests must not write)."""
    log = tmp_path_factory.mktemp("uvicorn") / "uvicorn.log"
    with running_server(scored_db_url, log) as base:
        yield base


@pytest.fixture
def throwaway_cluster(base_settings: Settings):
    """A second embedded PostGIS on a free port, to crash or stop without disturbing the
    test server (not started: the test starts it)."""
    import shutil
    import tempfile

    from app.localdb.cluster import LocalCluster

    if not base_settings.uses_embedded_db:
        pytest.skip("FONCIER_DATABASE_URL is set: the embedded PostGIS is not in use")
    # Under /var/tmp: the postgres user must be able to reach the directory.
    parent = Path(tempfile.mkdtemp(prefix="foncier-localdb-", dir="/var/tmp"))
    parent.chmod(0o755)
    cluster = LocalCluster(
        data_dir=parent / "pgdata",
        port=free_port(),
        bin_dir=base_settings.pg_bin_dir,
        db_name="foncier_localdb_test",
    )
    yield cluster
    if cluster.is_running():
        cluster.stop(echo=lambda _m: None)
    shutil.rmtree(parent, ignore_errors=True)


def authorisation(on: datetime.date | None = None) -> dict[str, str]:
    """What authorising a project says beside its status and reason: its date and its act."""
    day = on or datetime.date.today()
    return {"act": "arrêté préfectoral n° test", "occurred_on": day.isoformat()}
