"""The service behind pgbouncer in transaction pooling (FONCIER_TRANSACTION_POOLER): what
it sets per transaction survives, and each transaction may run on any server connection."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.errors import QueryCanceled
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.api.main import create_app
from app.db import make_engine
from app.localdb.cluster import SERVER_USER
from app.localdb.ports import free_port
from bench.failover import square
from tests.helpers.ledger import authorisation

TOKEN = "pgbouncer-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        shutil.which("pgbouncer") is None, reason="no pgbouncer (apt-get install pgbouncer)"
    ),
]


@pytest.fixture
def pooled_url(fresh_engine: Engine) -> Iterator[str]:
    """The test's database through a pgbouncer of its own in transaction pooling, with one
    server connection (so that every client shares it, one transaction at a time)."""
    server = make_url(fresh_engine.url.render_as_string(hide_password=False))
    folder = Path(tempfile.mkdtemp(prefix="foncier-pgbouncer-", dir="/var/tmp"))
    folder.chmod(0o755)
    if os.geteuid() == 0:  # pgbouncer refuses to run as root: as postgres, who writes its log
        owner = pwd.getpwnam(SERVER_USER)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    port = free_port()
    (folder / "users.txt").write_text(f'"{server.username}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n* = host={server.host} port={server.port}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder}/users.txt\npool_mode = transaction\n"
        f"default_pool_size = 1\nlogfile = {folder}/pgbouncer.log\n"
    )
    bouncer = subprocess.Popen(
        [*(["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []),
         "pgbouncer", str(folder / "pgbouncer.ini")]
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        conninfo = f"host=127.0.0.1 port={port} user={server.username} dbname={server.database}"
        while True:
            try:
                psycopg.connect(conninfo, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if bouncer.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield server.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        bouncer.terminate()  # runuser passes it on to pgbouncer
        bouncer.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def test_limits_hold_in_every_transaction_and_stay_in_it(pooled_url: str) -> None:
    limited = make_engine(pooled_url, 1500, pooler=True)
    plain = make_engine(pooled_url, pooler=True)
    settings = text(
        "SELECT current_setting('statement_timeout'), current_setting('jit'), CAST(:i AS int)"
    )
    try:
        with limited.connect() as a, plain.connect() as b:
            # the same query many times on each (psycopg would prepare it from the fifth),
            # their transactions taking turns on pgbouncer's one server connection
            for i in range(12):
                assert a.execute(settings, {"i": i}).one() == ("1500ms", "off", i)
                a.commit()
                assert b.execute(settings, {"i": i}).one() != ("1500ms", "off", i)
                b.commit()
            with pytest.raises(OperationalError) as cancelled:
                a.execute(text("SELECT pg_sleep(3)"))
            assert isinstance(cancelled.value.orig, QueryCanceled)
    finally:
        limited.dispose()
        plain.dispose()


def test_ledger_writes_through_the_pooler(pooled_url: str, base_settings) -> None:
    settings = base_settings.model_copy(
        update={
            "database_url": pooled_url,
            "transaction_pooler": True,
            "sync_ledger_commit": "remote_apply",
            "admin_token": TOKEN,
        }
    )
    app = create_app(settings)
    body = {"name": "p", "kind": "industrial", "epci_siren": "200056232"}
    with TestClient(app) as client:
        for i in range(6):
            created = client.post("/projects", json={**body, "geometry": square(i)}, headers=AUTH)
            assert created.status_code == 201, created.text
            pid = created.json()["id"]
            status = {"status": "authorised", "reason": "permis accordé"} | authorisation()
            assert client.post(f"/projects/{pid}/status", json=status, headers=AUTH).is_success
        assert len(client.get("/projects", headers=AUTH).json()) == 6
        chain = client.get("/audit", headers=AUTH).json()
    app.state.engine.dispose()
    assert [e["seq"] for e in chain] == list(range(1, 13))
