"""The recovery drill on the demo data: how much a loss costs (recovery point) and how long
the way back takes (recovery time), with pgBackRest and the embedded PostGIS.

    .venv/bin/python -m bench.recovery [--seconds 100] [--pace 0.5]      (./dev drill)

On a throwaway cluster under /var/tmp (never the development one), on a free port:

1. the schema and ``foncier import demo``; a full backup (timed, with its size);
2. a project recorded through the ledger's use cases every ``--pace`` seconds for
   ``--seconds``, each acknowledgement noted with its time; a time noted halfway;
3. the restore to that time, into a new data directory (timed): exactly the projects
   acknowledged before it must be there, the audit chain intact;
4. writes again for ``--seconds``, then ``kill -9`` of the server and its data directory
   moved away (a lost disk); the restore to the end of the archived WAL (timed): the
   acknowledged projects it lacks, and the seconds of writes they span, are the recovery
   point (bounded by ``archive_timeout``).

Everything it made is removed at the end.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from app.db import migrate
from app.localdb.backup import Backups
from app.localdb.cluster import LocalCluster
from app.localdb.ports import free_port
from app.security.audit_chain import verify
from app.services import ledger
from app.settings import PROJECT_DIR
from geo.access import Principal
from geo.ledger.write import ProjectDraft

DRILL = Principal(name="recovery drill", role="admin")
PARIS_SACLAY = "200056232"


def engine_of(cluster: LocalCluster) -> Engine:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/{cluster.db_name}"
    return create_engine(url, poolclass=NullPool)


def square(i: int) -> dict:
    """One of four ~60 m squares in Paris-Saclay (Longjumeau)."""
    lon, lat, d = 2.290 + 0.003 * (i % 4), 48.700, 0.0008
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d / 1.5], [lon, lat + d / 1.5]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def write_steadily(
    engine: Engine, seconds: float, pace: float, acks: list[tuple[str, datetime.datetime]]
) -> None:
    """A project every ``pace`` seconds, each acknowledgement noted with its time."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        draft = ProjectDraft(
            name=f"drill-{len(acks)}", kind="industrial", epci_siren=PARIS_SACLAY,
            geometry=square(len(acks)),
        )  # fmt: skip
        with engine.connect() as conn:
            ledger.record_project(conn, DRILL, draft, None)
        acks.append((draft.name, datetime.datetime.now(datetime.UTC)))
        time.sleep(pace)


def names_in(cluster: LocalCluster) -> tuple[list[str], str]:
    engine = engine_of(cluster)
    with engine.connect() as conn:
        names = conn.execute(
            text("SELECT name FROM project WHERE name LIKE 'drill-%' ORDER BY id")
        ).scalars()
        found, verdict = list(names), verify(conn).message
    engine.dispose()
    return found, verdict


def run(seconds: float, pace: float) -> None:
    parent = Path(tempfile.mkdtemp(prefix="foncier-drill-", dir="/var/tmp"))
    parent.chmod(0o755)
    primary = LocalCluster(data_dir=parent / "pgdata", port=free_port(), db_name="foncier")
    restored: list[LocalCluster] = []
    try:
        primary.start(echo=lambda _m: None)
        engine = engine_of(primary)
        migrate(url=engine.url.render_as_string(hide_password=False))
        env = {**os.environ, "FONCIER_DATABASE_URL": str(engine.url)}
        subprocess.run(
            [sys.executable, "-m", "app.cli", "import", "demo"],
            cwd=PROJECT_DIR, env=env, check=True, capture_output=True,
        )  # fmt: skip
        backups = Backups.of(primary)
        started = time.monotonic()
        label = backups.backup("full")
        took = time.monotonic() - started
        du = subprocess.run(["du", "-sh", str(backups.repo)], capture_output=True, text=True)
        print(f"full backup {label}: {took:.1f} s, repository {du.stdout.split()[0]}")

        acks: list[tuple[str, datetime.datetime]] = []
        write_steadily(engine, seconds / 2, pace, acks)
        target = datetime.datetime.now(datetime.UTC)
        write_steadily(engine, seconds / 2, pace, acks)
        print(f"{len(acks)} projects acknowledged over {seconds:.0f} s")

        backups.archive_now()  # the segment holding the time, for the restore to a time
        started = time.monotonic()
        to_time = backups.restore(target, parent / "to-time", free_port())
        restored.append(to_time)
        took = time.monotonic() - started
        found, verdict = names_in(to_time)
        before = [name for name, at in acks if at < target]
        print(
            f"restore to {target:%H:%M:%S.%f}: {took:.1f} s; {len(found)} projects, "
            f"{'exactly' if found == before else 'NOT'} the {len(before)} acknowledged"
            f" before it; {verdict}"
        )
        to_time.stop(echo=lambda _m: None)

        # writes go on, then the disk is lost: the server killed, its data directory gone
        write_steadily(engine, seconds, pace, acks)
        engine.dispose()
        pid = int((primary.data_dir / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        lost_at = datetime.datetime.now(datetime.UTC)
        time.sleep(2)  # its children notice and exit
        primary.data_dir.rename(parent / "pgdata.lost")
        started = time.monotonic()
        latest = backups.restore(None, parent / "latest", free_port())
        restored.append(latest)
        took = time.monotonic() - started
        found, verdict = names_in(latest)
        acked = [name for name, _ in acks]
        assert found == acked[: len(found)], "the restore holds writes out of order"
        missing = acks[len(found) :]
        window = (lost_at - missing[0][1]).total_seconds() if missing else 0.0
        print(
            f"data directory lost at {lost_at:%H:%M:%S}; restore to the end of the archive:"
            f" {took:.1f} s; {len(found)} of {len(acks)} acknowledged projects found, the"
            f" {len(missing)} acknowledged in the last {window:.1f} s before the loss lost;"
            f" {verdict}"
        )
    finally:
        for cluster in restored:
            if cluster.is_running():
                cluster.stop(echo=lambda _m: None)
        shutil.rmtree(parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=100.0, help="of steady writes")
    parser.add_argument("--pace", type=float, default=0.5, help="seconds between writes")
    args = parser.parse_args()
    if shutil.which("pgbackrest") is None:
        sys.exit("pgbackrest is not installed: apt-get install -y pgbackrest (./dev drill does)")
    run(args.seconds, args.pace)


if __name__ == "__main__":
    main()
