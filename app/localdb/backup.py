"""Backups and point-in-time recovery of the embedded PostGIS, with pgBackRest.

The repository (``FONCIER_BACKUP_REPO``, by default ``<data dir>.backup`` beside the data
directory) holds pgBackRest's configuration for the stanza ``foncier``, the backups and the
archived WAL. The cluster always runs with ``archive_mode = on`` and an ``archive_command``
that pushes a segment to the repository once that configuration exists (written by the first
``foncier db backup``) and does nothing before: no restart is needed to start archiving, and
a cluster without backups does not keep its WAL for an archive that will never come.

A restore is always into a new data directory, started on its own port, the original left
running and untouched: recovery to a time (or to the end of the archived WAL, after the loss
of the data directory), then promotion (a new timeline). Its WAL is not
archived into the original's repository (its own default repository is empty until it gets
a backup of its own).

pgBackRest reaches PostgreSQL through its unix socket only, which the cluster puts in its
data directory (cluster.py).
"""

from __future__ import annotations

import datetime
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from app.localdb.cluster import (
    BACKUP_CONFIG,
    BACKUP_STANZA,
    SERVER_USER,
    LocalCluster,
    LocalDbError,
)
from app.localdb.ports import busy_port_message, port_is_free

# Full backups kept; the WAL needed by the backups kept is kept with them.
RETENTION_FULL = 2


@dataclass
class Backups:
    """The pgBackRest repository of one embedded cluster."""

    cluster: LocalCluster
    repo: Path

    @classmethod
    def of(cls, cluster: LocalCluster) -> Backups:
        return cls(cluster, cluster.backup_repo)

    @property
    def config(self) -> Path:
        return self.repo / BACKUP_CONFIG

    def _pgbackrest(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        if shutil.which("pgbackrest") is None:
            raise LocalDbError(
                "pgbackrest is not installed: apt-get install -y pgbackrest (as root)."
            )
        command = ["pgbackrest", f"--config={self.config}", f"--stanza={BACKUP_STANZA}", *args]
        result = subprocess.run(self.cluster._as_owner(command), capture_output=True, text=True)
        if check and result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            errors = [line for line in lines if "ERROR" in line] or lines[-3:]
            raise LocalDbError(f"pgbackrest {args[-1]} failed: {' '.join(errors)}")
        return result

    def configure(self) -> None:
        """Write the repository's configuration (at each backup: the port may have moved)
        and create the stanza the first time."""
        created = not self.config.exists()
        for directory in (self.repo, self.repo / "log", self.repo / "lock"):
            directory.mkdir(parents=True, exist_ok=True)
            _own(directory)
        self.repo.chmod(0o750)
        self.config.write_text(
            "# Written by `foncier db backup` (app/localdb/backup.py).\n"
            "[global]\n"
            f"repo1-path={self.repo}\n"
            f"repo1-retention-full={RETENTION_FULL}\n"
            f"log-path={self.repo / 'log'}\n"
            f"lock-path={self.repo / 'lock'}\n"
            "log-level-console=warn\n"
            "log-level-file=info\n"
            # a checkpoint at once rather than at the next scheduled one
            "start-fast=y\n"
            "compress-type=zst\n"
            f"\n[{BACKUP_STANZA}]\n"
            f"pg1-path={self.cluster.data_dir}\n"
            f"pg1-port={self.cluster.port}\n"
            f"pg1-socket-path={self.cluster.socket_dir}\n"
        )
        _own(self.config)
        if created:
            self._pgbackrest("stanza-create")

    def backup(self, kind: str = "full") -> str:
        """A backup of the running cluster (``full``, ``diff`` or ``incr``); its label."""
        if not self.cluster.is_running():
            raise LocalDbError("the embedded PostGIS is not running: foncier db start")
        self.configure()
        self._check_archiving()
        self._pgbackrest(f"--type={kind}", "backup")
        return self.latest_label()

    def _check_archiving(self) -> None:
        with psycopg.connect(self.cluster.conninfo(), autocommit=True) as conn:
            mode, command = conn.execute(
                "SELECT current_setting('archive_mode'), current_setting('archive_command')"
            ).fetchone()  # type: ignore[misc]
        if mode == "off" or str(self.config) not in command:
            raise LocalDbError(
                f"WAL archiving into {self.repo} is not on in the running cluster (archive_mode"
                f" {mode}): restart it once (foncier db stop; foncier db start) to turn it on."
            )

    def archive_now(self) -> None:
        """Switch to a new WAL segment and wait until the one just closed is archived
        (what ``pgbackrest check`` does): a restore may then reach the present."""
        self._pgbackrest("check")

    def latest_label(self) -> str:
        import json

        info = json.loads(self._pgbackrest("--output=json", "info").stdout)
        return info[0]["backup"][-1]["label"]

    def info(self) -> str:
        return self._pgbackrest("info").stdout.strip()

    def restore(self, target: datetime.datetime | None, data_dir: Path, port: int) -> LocalCluster:
        """A new cluster in ``data_dir`` (absent or empty), recovered to ``target`` (None: to
        the end of the archived WAL) from the repository, promoted and running on ``port``."""
        if target is not None and target.tzinfo is None:
            raise LocalDbError("the target time needs its time zone (e.g. 2026-12-07T10:15:00Z)")
        data_dir = data_dir.resolve()
        if data_dir.exists() and any(data_dir.iterdir()):
            raise LocalDbError(f"{data_dir} is not empty: restore into a new directory")
        if data_dir == self.cluster.data_dir:
            raise LocalDbError("a restore goes into a new data directory, not the cluster's own")
        if not self.config.exists():
            raise LocalDbError(f"no backup repository in {self.repo}: foncier db backup first")
        data_dir.mkdir(parents=True, exist_ok=True)
        _own(data_dir)
        data_dir.chmod(0o700)
        to_time = () if target is None else (
            "--type=time",
            f"--target={target.astimezone(datetime.UTC).isoformat(sep=' ')}",
            "--target-action=promote",
        )  # fmt: skip
        self._pgbackrest(f"--pg1-path={data_dir}", *to_time, "restore")
        restored = LocalCluster(
            data_dir=data_dir,
            port=port,
            db_name=self.cluster.db_name,
            bin_dir=self.cluster.bin_dir,
            managed=False,
        )
        start_recovered(restored)
        return restored


def start_recovered(cluster: LocalCluster, timeout: float = 600.0) -> None:
    """Start a restored cluster on its port and wait until it has replayed up to its
    target and been promoted (it then accepts writes)."""
    if not port_is_free(cluster.port):
        raise LocalDbError(busy_port_message(cluster.port, "--port"))
    cluster._write_conf()
    cluster.log_file.touch()
    _own(cluster.log_file)
    cluster._pg_ctl("start", "-w", "-t", str(int(timeout)), "-l", str(cluster.log_file))
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(cluster.conninfo(), connect_timeout=2) as conn:
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:  # type: ignore[index]
                    return
        except psycopg.OperationalError:
            pass
        if time.monotonic() > deadline:
            raise LocalDbError(f"the restored cluster did not finish recovery{cluster._log_tail()}")
        time.sleep(0.2)


def _own(path: Path) -> None:
    """Files the server (and pgBackRest, run as its owner) must write belong to it."""
    if os.geteuid() == 0:
        owner = pwd.getpwnam(SERVER_USER)
        os.chown(path, owner.pw_uid, owner.pw_gid)
