"""The embedded PostGIS: idempotent start, recovery from a crash's stale pid file, stop;
where its data lives; a second checkout beside the first.

Runs other, throw-away clusters on free ports so the test database is not disturbed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from app.localdb.cluster import (
    SERVER_USER,
    SHARED_DATA_ROOT,
    LocalCluster,
    can_enter,
    checkout_data_dir,
    default_data_dir,
)
from app.settings import PROJECT_DIR, Settings
from tests.helpers import free_port

pytestmark = pytest.mark.cluster


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


# -- where the data lives ---------------------------------------------------


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory anyone may traverse (pytest's own tmp_path is under a 0700 one)."""
    path = Path(tempfile.mkdtemp(prefix="foncier-datadir-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_data_dir_leaves_a_checkout_the_postgres_user_cannot_reach(open_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("as another user than root the cluster is the user's own, in .pgdata")
    user = pwd.getpwnam(SERVER_USER)
    home = open_dir / "home"  # like /root on Debian: 0700, owned by root
    checkout = home / "foncier"
    checkout.mkdir(parents=True)
    home.chmod(0o700)
    assert not can_enter(checkout, user.pw_uid, {user.pw_gid})
    data_dir, note = default_data_dir(checkout)
    assert data_dir == checkout_data_dir(checkout)
    assert data_dir.parent == SHARED_DATA_ROOT and data_dir.name.startswith("foncier-")
    assert str(checkout) in note and str(data_dir) in note and "./dev clean" in note
    # Two checkouts of the same name never share a cluster.
    other = open_dir / "other" / "foncier"
    assert checkout_data_dir(other) != data_dir
    # Nothing of the user's was opened up.
    assert stat.S_IMODE(home.stat().st_mode) == 0o700

    home.chmod(0o711)  # traversable: the cluster stays in the checkout
    assert can_enter(checkout, user.pw_uid, {user.pw_gid})
    assert default_data_dir(checkout) == (checkout / ".pgdata", None)


def clone_worktree(target: Path) -> None:
    """``git clone`` of this checkout, with its uncommitted changes laid over, so the clone
    runs the code under test."""
    subprocess.run(["git", "clone", "-q", str(PROJECT_DIR), str(target)], check=True)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--modified", "--others", "--exclude-standard"],
        cwd=PROJECT_DIR, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source, copy = PROJECT_DIR / name, target / name
        if source.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
        else:
            copy.unlink(missing_ok=True)


def foncier(clone: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The clone's own `foncier` command (python -m puts the clone first on sys.path)."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=clone, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_second_checkout_in_a_root_only_directory_runs_beside_the_first(
    base_settings: Settings, tmp_path: Path
) -> None:
    """A clone in a 0700 directory owned by root (root's home on Debian): its cluster lives
    under /var/lib/foncier and runs on its own ports beside the first checkout's; taken
    ports are said in one sentence naming the variable."""
    if os.geteuid() != 0:
        pytest.skip("the root-only checkout is a root's case")
    if not base_settings.uses_embedded_db:
        pytest.skip("FONCIER_DATABASE_URL is set: the embedded PostGIS is not in use")
    home = Path(tempfile.mkdtemp(prefix="foncier-home-"))  # mode 0700, owned by root
    clone = home / "foncier-second"
    clone_worktree(clone)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FONCIER_PG_DATA_DIR", "FONCIER_DATABASE_URL")
    }
    pg_port, api_port = free_port(), free_port()
    while api_port == pg_port:
        api_port = free_port()
    env |= {"FONCIER_PG_PORT": str(pg_port), "FONCIER_PORT": str(api_port)}
    data_dir = checkout_data_dir(clone)
    server = None
    try:
        # The first checkout's PostGIS holds its port: one sentence, nothing created.
        taken = foncier(clone, env | {"FONCIER_PG_PORT": str(base_settings.pg_port)}, "db", "start")
        assert taken.returncode == 1
        assert taken.stderr.count("\n") == 1
        assert (
            f"port {base_settings.pg_port} on 127.0.0.1 is already in use by postgres"
            in taken.stderr
        )
        assert "set FONCIER_PG_PORT to a free port" in taken.stderr
        assert not data_dir.exists()

        started = foncier(clone, env, "db", "start")
        assert started.returncode == 0, started.stderr
        assert f"cannot reach {clone}" in started.stdout
        assert (
            f"PostGIS started on 127.0.0.1:{env['FONCIER_PG_PORT']} ({data_dir})" in started.stdout
        )
        assert data_dir.stat().st_uid == pwd.getpwnam(SERVER_USER).pw_uid
        # No permission of the user's own directories changed.
        assert stat.S_IMODE(home.stat().st_mode) == 0o700 and home.stat().st_uid == 0
        status = foncier(clone, env, "db", "status")
        assert f"running on 127.0.0.1:{env['FONCIER_PG_PORT']} ({data_dir})" in status.stdout

        with (tmp_path / "serve.log").open("w") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve"],
                cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        base = f"http://127.0.0.1:{env['FONCIER_PORT']}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "the clone's service did not start"
                time.sleep(0.3)
        assert health.status_code == 200 and health.json()["database"] == "ok"
        # ... beside the first checkout's database, still answering.
        with psycopg.connect(LocalCluster.from_settings(base_settings).conninfo()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)

        # The API port, now taken by the clone's service: one sentence naming FONCIER_PORT.
        again = foncier(clone, env, "serve")
        assert again.returncode == 1
        assert again.stderr.count("\n") == 1
        assert (
            f"port {env['FONCIER_PORT']} on 127.0.0.1 is already in use by python" in again.stderr
        )
        assert "set FONCIER_PORT to a free port" in again.stderr
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        cleaned = foncier(clone, env, "db", "clean")
        shutil.rmtree(home)
    assert cleaned.returncode == 0, cleaned.stderr
    assert f"Removed the database in {data_dir}" in cleaned.stdout
    assert not data_dir.exists()
