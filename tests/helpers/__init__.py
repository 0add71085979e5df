"""What the tests share, in one place: the data paths, the test databases, the service
under uvicorn. Fixtures are in tests/conftest.py; helpers of one subject are in the modules
beside this one (ledger, zan, ocsge, cli, synthetic files, recorded publishers)."""

from __future__ import annotations

import contextlib
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
from psycopg import sql
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.settings import PROJECT_DIR, Settings

DATA = PROJECT_DIR / "data"
CADASTRE_91216 = DATA / "cadastre" / "cadastre-91216-parcelles.json"
# What the tests write for a person to look at (screenshots, fuzzing reports).
OUTPUT = PROJECT_DIR / "tests" / "output"
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
PROBLEM = "application/problem+json"
PARIS_SACLAY = "200056232"  # the demo EPCI, CA Communauté Paris-Saclay (holds 91216)
# The count budget of the services the tests run (tests/conftest.py, base_settings).
UNHURRIED_COUNT_MS = 60_000


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


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


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
    unhurried = {"FONCIER_COUNT_BUDGET_MS": str(UNHURRIED_COUNT_MS)}
    environ = {**os.environ, **basemap, **unhurried, "FONCIER_DATABASE_URL": db_url, **env}
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


# The commune whose EPCI the flow searches: the demo's cadastre. When the demo holds the
# Grand-Orly Seine Bièvre communes (h-ground), "91479" (Paray-Vieille-Poste) searches the
# Métropole du Grand Paris instead; nothing else changes.
DEMO_COMMUNE = "91479"
