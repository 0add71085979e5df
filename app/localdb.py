"""The embedded PostGIS: a PostgreSQL 15 cluster in a project-local directory.

Used when ``FONCIER_DATABASE_URL`` is not set, so that one command gives a
developer (and CI) a real PostGIS without Docker. PostgreSQL refuses to run as
root, so when we are root the cluster belongs to the ``postgres`` system user
and every server command runs through ``runuser``.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from app.settings import Settings

PACKAGES = ("postgresql-15", "postgresql-15-postgis-3")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
INSTALL_COMMAND = (
    "apt-get update && DEBIAN_FRONTEND=noninteractive "
    f"apt-get install -y --no-install-recommends {' '.join(PACKAGES)}"
)
SERVER_USER = "postgres"
# Settings of the embedded cluster, rewritten at each start so the port follows
# FONCIER_PG_PORT. TCP on loopback only; no unix socket (its path length limit
# and directory permissions are a needless source of failures).
CONF_FILE = "foncier.conf"


class LocalDbError(RuntimeError):
    """The embedded PostGIS cannot be installed, started or reached."""


@dataclass(frozen=True)
class LocalCluster:
    data_dir: Path
    port: int
    bin_dir: Path
    db_name: str

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalCluster:
        return cls(
            data_dir=settings.pg_data_dir.resolve(),
            port=settings.pg_port,
            bin_dir=settings.pg_bin_dir,
            db_name=settings.db_name,
        )

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    # -- packages -----------------------------------------------------------

    def packages_installed(self) -> bool:
        return (self.bin_dir / "initdb").exists() and POSTGIS_CONTROL.exists()

    def install_packages(self, echo=print) -> None:
        if self.packages_installed():
            return
        if os.geteuid() != 0:
            raise LocalDbError(
                "PostgreSQL 15 and PostGIS 3 are not installed. Run as root:\n"
                f"  sudo sh -c '{INSTALL_COMMAND}'\nthen run this command again."
            )
        # Do not let the Debian package create and start its own 'main' cluster
        # on port 5432: the project runs its own.
        conf = Path("/etc/postgresql-common/createcluster.conf")
        if not conf.exists():
            conf.parent.mkdir(parents=True, exist_ok=True)
            conf.write_text("create_main_cluster = false\n")
        echo(f"Installing {', '.join(PACKAGES)} (apt-get)...")
        result = subprocess.run(["sh", "-c", INSTALL_COMMAND], capture_output=True, text=True)
        if result.returncode != 0 or not self.packages_installed():
            raise LocalDbError(
                f"apt-get failed to install {' '.join(PACKAGES)}:\n{result.stderr[-2000:]}"
            )

    # -- process helpers ----------------------------------------------------

    def _as_owner(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", SERVER_USER, "--", *args]
        return args

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self._as_owner(args), capture_output=True, text=True)
        if check and result.returncode != 0:
            raise LocalDbError(
                f"{Path(args[0]).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}{self._log_tail()}"
            )
        return result

    def _log_tail(self, lines: int = 15) -> str:
        try:
            tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\nserver log (" + str(self.log_file) + "):\n  " + "\n  ".join(tail)

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args], check)

    # -- lifecycle ----------------------------------------------------------

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        # pg_ctl status: 0 running, 3 not running, 4 no usable data directory.
        return self.is_initialised() and self._pg_ctl("status", check=False).returncode == 0

    def init(self) -> None:
        if self.is_initialised():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(self.data_dir, owner.pw_uid, owner.pw_gid)
            self._check_owner_can_reach_data_dir()
        self.data_dir.chmod(0o700)
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                # Loopback-only development cluster: trust, no password to manage.
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\ninclude_if_exists = '{CONF_FILE}'\n")

    def _check_owner_can_reach_data_dir(self) -> None:
        probe = self._run(["test", "-w", str(self.data_dir)], check=False)
        if probe.returncode != 0:
            raise LocalDbError(
                f"The '{SERVER_USER}' user cannot write {self.data_dir} (a parent directory is "
                "not traversable). Set FONCIER_PG_DATA_DIR to a directory it can reach, "
                "e.g. FONCIER_PG_DATA_DIR=/var/tmp/foncier-pgdata."
            )

    def _write_conf(self) -> None:
        conf = self.data_dir / CONF_FILE
        conf.write_text(
            "# Written by `foncier db start`; edit the FONCIER_PG_* settings instead.\n"
            f"port = {self.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            "unix_socket_directories = ''\n"
            "shared_buffers = '256MB'\n"
            "work_mem = '32MB'\n"
            "maintenance_work_mem = '512MB'\n"
            "max_wal_size = '2GB'\n"
            # A development and test cluster: losing the last few commits on a
            # power cut is acceptable, waiting for each fsync in tests is not.
            "synchronous_commit = off\n"
        )
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(conf, owner.pw_uid, owner.pw_gid)

    def start(self, echo=print) -> None:
        """Install, initialise, start and create the database; safe to call repeatedly."""
        self.install_packages(echo)
        self.init()
        if self.is_running():
            echo(f"PostGIS already running on 127.0.0.1:{self.port} ({self.data_dir})")
        else:
            pid_file = self.data_dir / "postmaster.pid"
            if pid_file.exists():
                # pg_ctl says no server runs with that pid: a crash left it behind.
                echo(f"Removing stale {pid_file}")
                pid_file.unlink()
            self._write_conf()
            self.log_file.touch()
            if os.geteuid() == 0:
                owner = pwd.getpwnam(SERVER_USER)
                os.chown(self.log_file, owner.pw_uid, owner.pw_gid)
            self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log_file))
            echo(f"PostGIS started on 127.0.0.1:{self.port} ({self.data_dir})")
        self.wait_ready()
        self.create_database(self.db_name)

    def stop(self, echo=print) -> None:
        if not self.is_running():
            echo("PostGIS is not running")
            return
        self._pg_ctl("stop", "-m", "fast", "-w")
        echo("PostGIS stopped")

    # -- databases ----------------------------------------------------------

    def conninfo(self, db_name: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={db_name}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.conninfo(), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise LocalDbError(f"PostGIS does not answer: {exc}{self._log_tail()}") from exc
                time.sleep(0.2)

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with psycopg.connect(self.conninfo(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
