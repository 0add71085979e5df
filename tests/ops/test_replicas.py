"""Reads from a hot standby, writes to the primary (app/replicas.py), on a real standby of
the embedded test cluster made with pg_basebackup and started beside it."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from app.api.main import create_app
from app.localdb.cluster import SERVER_USER, LocalCluster
from geo.ingest.cadastre import load_cadastre
from geo.scoring.refresh import refresh_scores
from tests.helpers import CADASTRE_91216, Databases, engine_for

pytestmark = pytest.mark.cluster

TOKEN = "replica-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Standby:
    cluster: LocalCluster
    url: str  # the test's database, on the standby
    dbname: str

    def query(self, sql: str):
        with psycopg.connect(
            host="127.0.0.1", port=self.cluster.port, user="postgres", dbname=self.dbname
        ) as conn:
            return conn.execute(sql).fetchone()[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def primary_url(databases: Databases, template_db: str) -> Iterator[str]:
    """A private database (this module writes a project): 91216 scored."""
    name = f"foncier_test_replica_{uuid.uuid4().hex[:8]}"
    url = databases.create(name, template=template_db)
    engine = engine_for(url)
    load_cadastre(engine, CADASTRE_91216)
    refresh_scores(engine, commune="91216")
    engine.dispose()
    yield url
    databases.drop(name)


@pytest.fixture(scope="module")
def standby(base_settings, primary_url: str) -> Iterator[Standby]:
    if not base_settings.uses_embedded_db:
        pytest.skip("the standby is made from the embedded cluster")
    primary = LocalCluster.from_settings(base_settings)
    data_dir = primary.data_dir.parent / f"{primary.data_dir.name}-standby-{uuid.uuid4().hex[:8]}"
    data_dir.mkdir(mode=0o700)
    if os.geteuid() == 0:
        owner = pwd.getpwnam(SERVER_USER)
        os.chown(data_dir, owner.pw_uid, owner.pw_gid)
    cluster = LocalCluster(data_dir=data_dir, port=_free_port(), db_name=primary.db_name)
    cluster._run(
        [
            primary.tool("pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(data_dir), "-R", "-X", "stream", "-c", "fast"),
        ]
    )
    # the primary's settings came along: another port and its own socket directory (not
    # the primary's data directory), the same loopback address
    cluster._run(
        [
            primary.tool("pg_ctl"),
            *("-D", str(data_dir), "-l", str(data_dir / "server.log"), "-w"),
            *("-o", f"-p {cluster.port} -k {data_dir}", "start"),
        ]
    )
    dbname = make_url(primary_url).database
    url = make_url(primary_url).set(port=cluster.port).render_as_string(hide_password=False)
    try:
        yield Standby(cluster, url, dbname)
    finally:
        cluster._run(
            [primary.tool("pg_ctl"), "-D", str(data_dir), "-m", "immediate", "stop"],
            check=False,
        )
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def client(base_settings, primary_url: str, standby: Standby) -> Iterator[TestClient]:
    settings = base_settings.model_copy(
        update={
            "database_url": primary_url,
            "read_replica_urls": standby.url,
            "admin_token": TOKEN,
            "admin_name": "prefecture-test",
        }
    )
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def _sessions_on(standby: Standby) -> int:
    return standby.query(
        "SELECT count(*) FROM pg_stat_activity "
        f"WHERE datname = '{standby.dbname}' AND pid <> pg_backend_pid()"
    )


def test_reads_go_to_the_standby_writes_to_the_primary(
    client: TestClient, standby: Standby
) -> None:
    assert standby.query("SELECT pg_is_in_recovery()") is True
    assert _sessions_on(standby) == 0
    search = client.get("/parcels/search?commune=91216&limit=5")
    assert search.status_code == 200 and search.json()["features"]
    assert _sessions_on(standby) >= 1  # the service's read pool is connected there
    tile = client.get("/tiles/parcels/14/8297/5648.mvt")
    assert tile.status_code == 200 and tile.content

    # A write, while the standby does not replay: its author reads it from the primary.
    standby.query("SELECT pg_wal_replay_pause()::text")
    try:
        created = client.post(
            "/projects",
            json={
                "name": "Usine (synthetic)",
                "kind": "industrial",
                "epci_siren": "200056232",
                "parcel_ids": ["91216000AB0037"],
            },
            headers=AUTH,
        )
        assert created.status_code == 201, created.text
        project_id = created.json()["id"]
        assert standby.query(f"SELECT count(*) FROM project WHERE id = {project_id}") == 0
        mine = client.get(f"/projects/{project_id}", headers=AUTH)
        assert mine.status_code == 200 and mine.json()["id"] == project_id
        # a read that never wrote still goes to the standby, which is behind
        assert client.get("/parcels/search?commune=91216&limit=1").status_code == 200
    finally:
        standby.query("SELECT pg_wal_replay_resume()::text")
    for _ in range(100):  # replayed: the standby has it too
        if standby.query(f"SELECT count(*) FROM project WHERE id = {project_id}") == 1:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the standby did not replay the write")
    assert client.get(f"/projects/{project_id}", headers=AUTH).status_code == 200


def test_a_stopped_standby_sends_reads_back_to_the_primary(
    client: TestClient, standby: Standby
) -> None:
    standby.cluster._run(
        [
            LocalCluster.from_settings(client.app.state.settings).tool("pg_ctl"),
            *("-D", str(standby.cluster.data_dir), "-m", "fast", "stop"),
        ]
    )
    for _ in range(3):  # the first finds it gone, the next ones skip it
        response = client.get("/parcels/search?commune=91216&limit=5")
        assert response.status_code == 200 and response.json()["features"]
    assert client.get("/tiles/parcels/14/8297/5648.mvt").status_code == 200
