"""The embedded PostGIS: idempotent start, recovery from a crash's stale pid file, stop.

Runs a second, throw-away cluster on a free port so the test database is not disturbed.
"""

from __future__ import annotations

import os
import signal
import time

import psycopg

from app.localdb import LocalCluster


def postmaster_pid(cluster: LocalCluster) -> int:
    return int((cluster.data_dir / "postmaster.pid").read_text().split()[0])


def postgis_version(cluster: LocalCluster) -> str:
    with psycopg.connect(cluster.conninfo(cluster.db_name)) as conn:
        return conn.execute("SELECT postgis_lib_version()").fetchone()[0]


def test_start_twice_kill_and_restart_then_stop(throwaway_cluster: LocalCluster) -> None:
    cluster = throwaway_cluster
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
