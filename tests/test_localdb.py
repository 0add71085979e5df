"""The embedded PostGIS: idempotent start, recovery from a crash's stale pid file, stop.

Runs a second, throw-away cluster on a free port so the test database is not disturbed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from app.localdb import LocalCluster
from app.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(base_settings: Settings):
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


def postmaster_pid(cluster: LocalCluster) -> int:
    return int((cluster.data_dir / "postmaster.pid").read_text().split()[0])


def postgis_version(cluster: LocalCluster) -> str:
    with psycopg.connect(cluster.conninfo(cluster.db_name)) as conn:
        return conn.execute("SELECT postgis_lib_version()").fetchone()[0]


def test_start_twice_kill_and_restart_then_stop(cluster: LocalCluster) -> None:
    messages: list[str] = []
    cluster.start(echo=messages.append)
    assert postgis_version(cluster).startswith("3.")
    cluster.start(echo=messages.append)
    assert "already running" in messages[-1]

    # A crash: the postmaster dies without removing its pid file.
    pid = postmaster_pid(cluster)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while cluster.is_running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (cluster.data_dir / "postmaster.pid").exists()

    cluster.start(echo=messages.append)
    assert any("stale" in m for m in messages)
    assert postmaster_pid(cluster) != pid
    assert postgis_version(cluster).startswith("3.")

    cluster.stop(echo=messages.append)
    assert not cluster.is_running()
    cluster.stop(echo=messages.append)
    assert messages[-1] == "PostGIS is not running"
