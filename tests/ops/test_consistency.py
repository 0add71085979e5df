"""Read-your-writes across processes: two API processes on one primary and its hot standby
(a throwaway cluster and a pg_basebackup of it); a write through one answers a consistency
token that the other honours while the standby is behind."""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from app.db import migrate
from app.localdb.cluster import SERVER_USER, LocalCluster
from app.localdb.ports import free_port
from app.replicas import CONSISTENCY_COOKIE, CONSISTENCY_HEADER
from geo.ingest.admin import load_admin
from tests.helpers import DATA, PARIS_SACLAY, engine_for, running_server
from tests.helpers.ledger import square

pytestmark = pytest.mark.cluster

TOKEN = "consistency-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def sql(cluster: LocalCluster, query: str):
    with psycopg.connect(cluster.conninfo(cluster.db_name), autocommit=True) as conn:
        return conn.execute(query).fetchone()[0]  # type: ignore[index]


@pytest.fixture
def primary_and_standby(throwaway_cluster: LocalCluster) -> Iterator[tuple[str, str, LocalCluster]]:
    primary = throwaway_cluster
    primary.start(echo=lambda _m: None)
    url = f"postgresql://postgres@127.0.0.1:{primary.port}/{primary.db_name}"
    migrate(url=url)
    engine = engine_for(url)
    load_admin(engine, DATA / "admin")
    engine.dispose()
    data_dir: Path = primary.data_dir.parent / "standby"
    data_dir.mkdir(mode=0o700)
    if os.geteuid() == 0:
        owner = pwd.getpwnam(SERVER_USER)
        os.chown(data_dir, owner.pw_uid, owner.pw_gid)
    standby = LocalCluster(data_dir=data_dir, port=free_port(), db_name=primary.db_name)
    standby._run(
        [
            primary.tool("pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(data_dir), "-R", "-X", "stream", "-c", "fast"),
        ]
    )
    standby._write_conf()  # its own port and socket
    standby._pg_ctl("start", "-w", "-l", str(standby.log_file))
    try:
        yield url, url.replace(f":{primary.port}/", f":{standby.port}/"), standby
    finally:
        standby._pg_ctl("stop", "-m", "immediate", check=False)


def test_a_write_through_one_process_is_read_through_another(
    primary_and_standby: tuple[str, str, LocalCluster], tmp_path: Path
) -> None:
    primary_url, standby_url, standby = primary_and_standby
    env = {"FONCIER_READ_REPLICA_URLS": standby_url, "FONCIER_ADMIN_TOKEN": TOKEN}
    with (
        running_server(primary_url, tmp_path / "a.log", **env) as a,
        running_server(primary_url, tmp_path / "b.log", **env) as b,
    ):
        assert sql(standby, "SELECT pg_is_in_recovery()") is True
        sql(standby, "SELECT pg_wal_replay_pause()::text")  # the standby falls behind
        project = {
            "name": "Usine (synthetic)", "kind": "industrial", "epci_siren": PARIS_SACLAY,
            "geometry": square(2.290, 48.700, 80),
        }  # fmt: skip
        created = httpx.post(f"{a}/projects", json=project, headers=AUTH, timeout=30)
        assert created.status_code == 201, created.text
        token = created.headers[CONSISTENCY_HEADER]
        # (quoted in Set-Cookie for its "/"; the value the browser sends back is the same)
        assert created.cookies[CONSISTENCY_COOKIE].strip('"') == token
        path = f"/projects/{created.json()['id']}"

        # the other process never saw the write: without the token it reads the standby
        assert httpx.get(f"{b}{path}", headers=AUTH).status_code == 404
        # with it, by header or by cookie, it reads what the standby has not replayed
        mine = httpx.get(f"{b}{path}", headers={**AUTH, CONSISTENCY_HEADER: token})
        assert mine.status_code == 200 and mine.json()["name"] == "Usine (synthetic)"
        cookie = httpx.get(
            f"{b}{path}", headers={**AUTH, "Cookie": f'{CONSISTENCY_COOKIE}="{token}"'}
        )
        assert cookie.status_code == 200
        refused = httpx.get(f"{b}{path}", headers={**AUTH, CONSISTENCY_HEADER: "yesterday"})
        assert refused.status_code == 422
        assert CONSISTENCY_HEADER in refused.json()["detail"]

        sql(standby, "SELECT pg_wal_replay_resume()::text")
        deadline = time.monotonic() + 30
        while httpx.get(f"{b}{path}", headers=AUTH).status_code != 200:
            assert time.monotonic() < deadline, "the standby did not replay the write"
            time.sleep(0.1)
