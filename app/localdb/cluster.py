"""The embedded PostGIS: a PostgreSQL cluster of the project's own.

Used when ``FONCIER_DATABASE_URL`` is not set, so that one command gives a
developer (and CI) a real PostGIS without Docker. PostgreSQL refuses to run as
root, so when we are root the cluster belongs to the ``postgres`` system user
and every server command runs through ``runuser``. The server's version is
discovered (app/localdb/pgserver.py); its data directory is ``.pgdata`` in the checkout,
or, when the ``postgres`` user cannot reach the checkout (root's home is mode 0700
on Debian), a directory under /var/lib/foncier named after the checkout.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from app.localdb.pgserver import PgDiscoveryError, ServerPlan, plan_server
from app.localdb.ports import busy_port_message, port_is_free
from app.settings import PROJECT_DIR, DatabaseSettings

SERVER_USER = "postgres"
# Where clusters go when the postgres user cannot reach the checkout: one directory
# per checkout, named after its path, so two checkouts never share a cluster.
SHARED_DATA_ROOT = Path("/var/lib/foncier")
# Settings of the embedded cluster, rewritten at each start so the port follows
# FONCIER_PG_PORT. Clients use TCP on loopback. The one that needs a unix socket is
# pgBackRest (app/localdb/backup.py): the socket goes in the data directory (only its owner
# may enter it) unless its path would pass the 107 bytes of a socket address, then in /tmp,
# PostgreSQL's own default.
CONF_FILE = "foncier.conf"
_SOCKET_DIR_MAX = 90
# pgBackRest's stanza, and the cluster's archive_command: a push into the backup repository
# once `foncier db backup` has configured it, nothing before (so no restart is needed then).
BACKUP_STANZA = "foncier"
BACKUP_CONFIG = "pgbackrest.conf"


def _conf_quoted(value: str) -> str:
    """A value for a quoted string of postgresql.conf."""
    return value.replace("'", "''")


def archive_command(repo: Path) -> str:
    config = repo / BACKUP_CONFIG
    return (
        f"test ! -f '{config}'"
        f" || pgbackrest --config='{config}' --stanza={BACKUP_STANZA} archive-push %p"
    )


class LocalDbError(RuntimeError):
    """The embedded PostGIS cannot be installed, started or reached."""


def _server_user() -> tuple[int, set[int]] | None:
    """uid and groups of the postgres user; None before its package creates it."""
    try:
        user = pwd.getpwnam(SERVER_USER)
    except KeyError:
        return None
    gids = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if SERVER_USER in g.gr_mem}
    return user.pw_uid, gids


def can_enter(path: Path, uid: int | None, gids: set[int]) -> bool:
    """Whether a user (uid None: one that does not exist yet, so in no one's group) may
    traverse every directory down to ``path`` and enter it, by the mode bits."""
    if uid == 0:
        return True
    path = path.resolve()
    for directory in (*reversed(path.parents), path):
        st = directory.stat()
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid in gids:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def checkout_data_dir(project_dir: Path) -> Path:
    """The cluster's directory under /var/lib/foncier for this checkout."""
    project_dir = project_dir.resolve()
    digest = hashlib.sha256(str(project_dir).encode()).hexdigest()[:8]
    return SHARED_DATA_ROOT / f"{project_dir.name}-{digest}"


def default_data_dir(project_dir: Path = PROJECT_DIR) -> tuple[Path, str | None]:
    """``.pgdata`` in the checkout, unless we are root and the postgres user cannot reach
    the checkout; then the checkout's own directory under /var/lib/foncier, with the
    sentence saying why. The permissions of the user's directories are left alone."""
    if os.geteuid() != 0:
        return project_dir / ".pgdata", None
    user = _server_user()
    uid, gids = user if user else (None, set())
    if can_enter(project_dir, uid, gids):
        return project_dir / ".pgdata", None
    data_dir = checkout_data_dir(project_dir)
    return data_dir, (
        f"The '{SERVER_USER}' user cannot reach {project_dir.resolve()}, so the database "
        f"lives in {data_dir} (`./dev clean` removes it; FONCIER_PG_DATA_DIR chooses another)."
    )


@dataclass
class LocalCluster:
    data_dir: Path
    port: int
    db_name: str
    # None: discovered (and installed when missing) by start(); else FONCIER_PG_BIN_DIR.
    bin_dir: Path | None = None
    # Why the data directory is not in the checkout, when it is not.
    data_dir_note: str | None = None
    # True when the data directory was chosen by the project, not by FONCIER_PG_DATA_DIR:
    # only then may `foncier db clean` remove it.
    managed: bool = True
    # The pgBackRest repository (FONCIER_BACKUP_REPO); None: ``<data dir>.backup``.
    backup_dir: Path | None = None
    _plan: ServerPlan | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> LocalCluster:
        if settings.pg_data_dir is not None:
            data_dir, note, managed = settings.pg_data_dir.resolve(), None, False
        else:
            (data_dir, note), managed = default_data_dir(PROJECT_DIR), True
        return cls(
            data_dir=data_dir,
            port=settings.pg_port,
            bin_dir=settings.pg_bin_dir,
            db_name=settings.db_name,
            data_dir_note=note,
            managed=managed,
            backup_dir=settings.backup_repo,
        )

    @property
    def backup_repo(self) -> Path:
        if self.backup_dir is not None:
            return self.backup_dir.resolve()
        return self.data_dir.with_name(self.data_dir.name + ".backup")

    @property
    def socket_dir(self) -> Path:
        if len(str(self.data_dir)) <= _SOCKET_DIR_MAX:
            return self.data_dir
        return Path("/tmp")

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    # -- packages -----------------------------------------------------------

    def cluster_major(self) -> int | None:
        """The major version that created the cluster, None before initdb."""
        try:
            return int((self.data_dir / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return None

    def server_plan(self) -> ServerPlan:
        """Which server runs this cluster, and what is missing to run it."""
        if self._plan is None:
            if self.bin_dir is not None:
                self._plan = ServerPlan(0, self.bin_dir, (), "FONCIER_PG_BIN_DIR")
            else:
                try:
                    self._plan = plan_server(cluster_major=self.cluster_major())
                except PgDiscoveryError as exc:
                    raise LocalDbError(exc.args[0][0].upper() + exc.args[0][1:] + ".") from exc
        return self._plan

    def tool(self, name: str) -> str:
        return str(self.server_plan().bin_dir / name)

    def install_packages(self, echo=print) -> None:
        plan = self.server_plan()
        if self.bin_dir is not None:
            if not (self.bin_dir / "initdb").exists():
                raise LocalDbError(f"FONCIER_PG_BIN_DIR={self.bin_dir} has no initdb.")
            return
        if not plan.packages:
            return
        if os.geteuid() != 0:
            raise LocalDbError(
                f"{' and '.join(plan.packages)} (PostgreSQL {plan.major} with PostGIS 3) "
                f"{'is' if len(plan.packages) == 1 else 'are'} not installed. Run as root:\n"
                f"  sudo sh -c '{plan.install_command}'\nthen run this command again."
            )
        # Do not let the Debian package create and start its own 'main' cluster
        # on port 5432: the project runs its own.
        conf = Path("/etc/postgresql-common/createcluster.conf")
        if not conf.exists():
            conf.parent.mkdir(parents=True, exist_ok=True)
            conf.write_text("create_main_cluster = false\n")
        echo(f"Installing {', '.join(plan.packages)} ({plan.source}, apt-get)...")
        result = subprocess.run(["sh", "-c", plan.install_command], capture_output=True, text=True)
        self._plan = None
        if result.returncode != 0 or self.server_plan().packages:
            raise LocalDbError(
                f"apt-get failed to install {' '.join(plan.packages)}:\n{result.stderr[-2000:]}"
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
        return self._run([self.tool("pg_ctl"), "-D", str(self.data_dir), *args], check)

    # -- lifecycle ----------------------------------------------------------

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        # pg_ctl status: 0 running, 3 not running, 4 no usable data directory.
        return self.is_initialised() and self._pg_ctl("status", check=False).returncode == 0

    def init(self) -> None:
        if self.is_initialised():
            return
        if self.data_dir.parent == SHARED_DATA_ROOT and not SHARED_DATA_ROOT.exists():
            SHARED_DATA_ROOT.mkdir(parents=True)
            SHARED_DATA_ROOT.chmod(0o755)  # whatever the umask: postgres must traverse it
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(self.data_dir, owner.pw_uid, owner.pw_gid)
            self._check_owner_can_reach_data_dir()
        self.data_dir.chmod(0o700)
        self._run(
            [
                self.tool("initdb"),
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
                "not traversable). Set FONCIER_PG_DATA_DIR to a directory it can reach, or "
                "unset it to let Foncier choose one under /var/lib/foncier."
            )

    def _write_conf(self) -> None:
        conf = self.data_dir / CONF_FILE
        conf.write_text(
            "# Written by `foncier db start`; edit the FONCIER_PG_* settings instead.\n"
            f"port = {self.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "shared_buffers = '256MB'\n"
            "work_mem = '32MB'\n"
            "maintenance_work_mem = '512MB'\n"
            "max_wal_size = '2GB'\n"
            # A development and test cluster: losing the last few commits on a
            # power cut is acceptable, waiting for each fsync in tests is not.
            "synchronous_commit = off\n"
            # Point-in-time recovery (app/localdb/backup.py): a segment with commits is
            # archived within 30 s even when not full, the recovery point after the loss of
            # the data directory (docs/operations.md; at 60 s no switch came in 150 s of
            # steady writes on the development machine, at 30 s one came every 30 s).
            "archive_mode = on\n"
            f"archive_command = '{_conf_quoted(archive_command(self.backup_repo))}'\n"
            "archive_timeout = '30s'\n"
        )
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(conf, owner.pw_uid, owner.pw_gid)

    def running_port(self) -> int | None:
        """The port the running server listens on (4th line of its pid file)."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, ValueError, IndexError):
            return None

    def start(self, echo=print) -> None:
        """Install, initialise, start and create the database; safe to call repeatedly."""
        self.install_packages(echo)
        if self.is_running():
            running = self.running_port()
            if running is not None and running != self.port:
                raise LocalDbError(
                    f"The cluster in {self.data_dir} already runs on port {running}, not on "
                    f"FONCIER_PG_PORT={self.port}: set FONCIER_PG_PORT={running}, or stop it "
                    "first (foncier db stop)."
                )
            echo(f"PostGIS already running on 127.0.0.1:{self.port} ({self.data_dir})")
        else:
            # Before initdb: a taken port is said at once, in one sentence.
            if not port_is_free(self.port):
                raise LocalDbError(busy_port_message(self.port, "FONCIER_PG_PORT"))
            if not self.is_initialised() and self.data_dir_note:
                echo(self.data_dir_note)
            self.init()
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
            try:
                self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log_file))
            except LocalDbError:
                # Taken between the check and the start (another server starting too).
                if "Address already in use" in self._log_tail(5):
                    raise LocalDbError(busy_port_message(self.port, "FONCIER_PG_PORT")) from None
                raise
            echo(f"PostGIS started on 127.0.0.1:{self.port} ({self.data_dir})")
        self.wait_ready()
        self.create_database(self.db_name)

    def stop(self, echo=print) -> None:
        if not self.is_running():
            echo("PostGIS is not running")
            return
        self._pg_ctl("stop", "-m", "fast", "-w")
        echo("PostGIS stopped")

    def remove(self, echo=print) -> None:
        """Stop the cluster and delete its data directory: only a directory the project
        chose (.pgdata or under /var/lib/foncier), never one named by FONCIER_PG_DATA_DIR."""
        if not self.managed:
            echo(
                f"FONCIER_PG_DATA_DIR is set: {self.data_dir} is yours to keep or remove "
                "(stop its server first: foncier db stop); it was left in place."
            )
            return
        if self.is_initialised():
            try:
                running = self.is_running()
            except LocalDbError:  # its server is no longer installed: it cannot run
                running = False
            if running:
                self.stop(echo)
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
            echo(f"Removed the database in {self.data_dir}")
        else:
            echo(f"No database to remove ({self.data_dir})")
        if self.data_dir.parent == SHARED_DATA_ROOT:
            # Only when no other checkout keeps a cluster there.
            with contextlib.suppress(OSError):
                SHARED_DATA_ROOT.rmdir()

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
