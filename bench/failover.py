"""The failover drill: the primary lost under steady ledger writes, its synchronous standby
promoted, and not one acknowledged write missing.

    .venv/bin/python -m bench.failover [--before 15] [--after 15] [--clients 3]
                                       [--pace 0.3] [--detect 1]      (./dev drill failover)

On throwaway clusters under /var/tmp (never the development one), on free ports:

1. a primary with the schema and the administrative reference; a standby made from it
   (``pg_basebackup -R``), named in the primary's ``synchronous_standby_names``;
2. the service under uvicorn, on the multi-host URL that finds the writable server
   (``target_session_attrs=read-write``), its audited writes committed with
   ``FONCIER_SYNC_LEDGER_COMMIT=remote_apply``: while the standby's replay is paused, a
   ledger write waits in its commit and a read does not;
3. ``--clients`` clients, each recording a project then authorising it (a ledger entry)
   through the API, one request every ``--pace`` seconds, every answer noted;
4. after ``--before`` seconds, ``kill -9`` of the primary (its postmaster and every process
   of it: a machine lost); ``--detect`` seconds later (what noticing takes) ``pg_ctl
   promote`` of the standby; the clients carry on for ``--after`` seconds;
5. on the promoted standby: every write a client was told succeeded (2xx) is there; what is
   there and was not acknowledged is only what was cut by the loss (an answer 5xx or none:
   its author does not know and must look); the audit chain intact.

Everything it made is removed at the end.
"""

from __future__ import annotations

import argparse
import datetime
import os
import pwd
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from app.db import migrate
from app.localdb.cluster import SERVER_USER, LocalCluster
from app.localdb.ports import free_port
from app.security.audit_chain import verify
from app.settings import PROJECT_DIR
from geo.ingest.admin import load_admin

TOKEN = "failover-drill-token-0123456789"
PARIS_SACLAY = "200056232"
STANDBY_NAME = "foncier_standby"
QUIET = {"echo": lambda _m: None}


def square(i: int) -> dict:
    """One of four ~60 m squares in Paris-Saclay (Longjumeau)."""
    lon, lat, d = 2.290 + 0.003 * (i % 4), 48.700, 0.0008
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d / 1.5], [lon, lat + d / 1.5]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


@dataclass
class Answer:
    """One write as its client saw it: ``ack`` (2xx), ``refused`` (4xx: not written) or
    ``unknown`` (5xx or no answer: cut by the loss, written or not)."""

    what: str  # "create" or "authorise"
    key: str  # the project's name (create) or id (authorise)
    outcome: str
    at: float  # when the answer came (monotonic)


@dataclass
class Clients:
    base: str
    count: int
    pace: float
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _note(self, what: str, key: str, response: httpx.Response | None) -> bool:
        if response is None or response.status_code >= 500:
            outcome = "unknown"
        elif response.status_code >= 400:
            outcome = "refused"
        else:
            outcome = "ack"
        with self._lock:
            self.answers.append(Answer(what, key, outcome, time.monotonic()))
        return outcome == "ack"

    def _post(self, http: httpx.Client, path: str, body: dict) -> httpx.Response | None:
        try:
            return http.post(path, json=body)
        except httpx.TransportError:
            return None

    def _write(self, n: int) -> None:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=self.base, headers=auth, timeout=30) as http:
            i = 0
            while not self.stop.is_set():
                name = f"drill-{n}-{i}"
                body = {
                    "name": name, "kind": "industrial", "epci_siren": PARIS_SACLAY,
                    "geometry": square(i),
                }  # fmt: skip
                created = self._post(http, "/projects", body)
                if self._note("create", name, created) and created is not None:
                    pid = created.json()["id"]
                    status = {
                        "status": "authorised", "reason": "drill: permis accordé",
                        "act": "arrêté n° drill", "occurred_on": datetime.date.today().isoformat(),
                    }  # fmt: skip
                    answer = self._post(http, f"/projects/{pid}/status", status)
                    self._note("authorise", str(pid), answer)
                i += 1
                self.stop.wait(self.pace)

    @contextmanager
    def writing(self) -> Iterator[None]:
        threads = [threading.Thread(target=self._write, args=(n,)) for n in range(self.count)]
        for t in threads:
            t.start()
        try:
            yield
        finally:
            self.stop.set()
            for t in threads:
                t.join(timeout=60)


def _conninfo(port: int, dbname: str = "foncier") -> str:
    return f"host=127.0.0.1 port={port} user=postgres dbname={dbname}"


def make_standby(primary: LocalCluster, data_dir: Path) -> LocalCluster:
    """A hot standby of ``primary`` streaming from it, started on its own port, with
    ``cluster_name`` as the name the primary knows it by."""
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
    # the primary's settings came along (foncier.conf): another port, its own socket
    standby._run(
        [
            primary.tool("pg_ctl"),
            *("-D", str(data_dir), "-l", str(standby.log_file), "-w"),
            *("-o", f"-p {standby.port} -k {data_dir} -c cluster_name={STANDBY_NAME}"),
            "start",
        ]
    )
    return standby


def require_synchronous_standby(primary: LocalCluster, timeout: float = 30) -> None:
    """Name the standby in the primary's synchronous_standby_names, and wait until it is
    the synchronous one."""
    with psycopg.connect(_conninfo(primary.port), autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'")
        conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + timeout
        while not conn.execute(
            "SELECT 1 FROM pg_stat_replication WHERE application_name = %s "
            "AND sync_state = 'sync' AND state = 'streaming'",
            (STANDBY_NAME,),
        ).fetchone():
            if time.monotonic() > deadline:
                raise RuntimeError("the standby did not become synchronous")
            time.sleep(0.2)


def commit_waits_for_replay(base: str, primary: LocalCluster, standby: LocalCluster) -> None:
    """While the standby's replay is paused, a ledger write through the service waits in
    its commit (remote_apply) and does not answer, and a read answers; once replay
    resumes, the write answers 201."""
    answer: list[httpx.Response] = []
    body = {
        "name": "paused-write", "kind": "industrial", "epci_siren": PARIS_SACLAY,
        "geometry": square(0),
    }  # fmt: skip
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def write() -> None:
        answer.append(httpx.post(f"{base}/projects", json=body, headers=auth, timeout=60))

    with (
        psycopg.connect(_conninfo(standby.port), autocommit=True) as on_standby,
        psycopg.connect(_conninfo(primary.port), autocommit=True) as on_primary,
    ):
        on_standby.execute("SELECT pg_wal_replay_pause()")
        writer = threading.Thread(target=write)
        writer.start()
        deadline = time.monotonic() + 30
        while not on_primary.execute(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
        ).fetchone():
            if time.monotonic() > deadline or not writer.is_alive():
                on_standby.execute("SELECT pg_wal_replay_resume()")
                writer.join()
                raise AssertionError(f"the write did not wait for the standby: {answer}")
            time.sleep(0.05)
        read = httpx.get(f"{base}/projects", headers=auth, timeout=10)
        assert read.status_code == 200 and not answer, "a read waited, or the write answered"
        on_standby.execute("SELECT pg_wal_replay_resume()")
        writer.join(timeout=30)
    assert answer and answer[0].status_code == 201, answer


def kill_server(cluster: LocalCluster) -> None:
    """``kill -9`` of the postmaster and of every process it started: the machine lost."""
    postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:  # its parent
            children.append(int(stat.parent.name))
    for pid in (postmaster, *children):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def promote(standby: LocalCluster) -> None:
    standby._run([standby.tool("pg_ctl"), "-D", str(standby.data_dir), "-w", "promote"])


@dataclass
class Outcome:
    acknowledged: int  # writes answered 2xx
    found: int  # of them, on the promoted standby
    unknown: int  # writes cut by the loss (5xx or no answer)
    unknown_written: int  # of them, on the promoted standby
    unexpected: list[str]  # on the promoted standby, neither acknowledged nor cut: none
    unavailable_s: float  # from the loss to the first acknowledged write after it
    audit: str
    audit_intact: bool
    audit_matches: bool  # one audit row per write found, no more, no less

    def __str__(self) -> str:
        return (
            f"{self.acknowledged} writes acknowledged, {self.found} found after the failover"
            f" ({self.acknowledged - self.found} lost); {self.unknown} cut by the loss"
            f" (5xx or no answer), {self.unknown_written} of them written;"
            f" {len(self.unexpected)} other writes found; {self.unavailable_s:.1f} s without"
            f" an acknowledged write; {self.audit}"
            f"{'' if self.audit_matches else ' (NOT one row per write found)'}"
        )


def check(standby: LocalCluster, answers: list[Answer], lost_at: float) -> Outcome:
    """Compare what the clients were told with what the promoted standby holds."""
    with psycopg.connect(_conninfo(standby.port)) as conn:
        created = dict(
            conn.execute("SELECT name, id FROM project WHERE name LIKE 'drill-%'").fetchall()
        )
        authorised = {
            str(pid)
            for (pid,) in conn.execute(
                "SELECT project_id FROM envelope_entry WHERE kind = 'status' "
                "AND status = 'authorised'"
            )
        }
        audited = conn.execute(
            "SELECT count(*) FROM audit_log WHERE object_type = 'project'"
        ).fetchone()
        projects = conn.execute("SELECT count(*) FROM project").fetchone()
    found = {"create": set(created), "authorise": authorised}
    acked = [a for a in answers if a.outcome == "ack"]
    unknown = [a for a in answers if a.outcome == "unknown"]
    attempted_unknown = {(a.what, a.key) for a in unknown}
    acked_keys = {(a.what, a.key) for a in acked}
    unexpected = sorted(
        f"{what} {key}"
        for what, keys in found.items()
        for key in keys
        if (what, key) not in acked_keys and (what, key) not in attempted_unknown
    )
    after = [a.at for a in acked if a.at > lost_at]
    engine = create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{standby.port}/foncier", poolclass=NullPool
    )
    with engine.connect() as conn:
        verdict = verify(conn)
    engine.dispose()
    return Outcome(
        acknowledged=len(acked),
        found=sum(1 for a in acked if a.key in found[a.what]),
        unknown=len(unknown),
        unknown_written=sum(1 for a in unknown if a.key in found[a.what]),
        unexpected=unexpected,
        unavailable_s=(min(after) - lost_at) if after else float("inf"),
        audit=verdict.message,
        audit_intact=verdict.intact,
        audit_matches=audited is not None
        and projects is not None
        and audited[0] == projects[0] + len(authorised),
    )


def run(
    before: float, after: float, clients: int, pace: float, detect: float, echo=print
) -> Outcome:
    from tests.helpers import running_server

    parent = Path(tempfile.mkdtemp(prefix="foncier-failover-", dir="/var/tmp"))
    parent.chmod(0o755)
    primary = LocalCluster(data_dir=parent / "primary", port=free_port(), db_name="foncier")
    standby: LocalCluster | None = None
    try:
        started = time.monotonic()
        primary.start(**QUIET)
        url = f"postgresql+psycopg://postgres@127.0.0.1:{primary.port}/foncier"
        migrate(url=url)
        engine = create_engine(url, poolclass=NullPool)
        load_admin(engine, PROJECT_DIR / "data" / "admin")
        engine.dispose()
        standby = make_standby(primary, parent / "standby")
        require_synchronous_standby(primary)
        echo(
            f"primary :{primary.port}, synchronous standby :{standby.port}"
            f" ready in {time.monotonic() - started:.0f} s"
        )
        both = (
            f"postgresql+psycopg://postgres@/foncier?host=127.0.0.1:{primary.port}"
            f"&host=127.0.0.1:{standby.port}&target_session_attrs=read-write"
        )
        env = {"FONCIER_ADMIN_TOKEN": TOKEN, "FONCIER_SYNC_LEDGER_COMMIT": "remote_apply"}
        with running_server(both, parent / "uvicorn.log", **env) as base:
            commit_waits_for_replay(base, primary, standby)
            echo("a ledger write waits for the standby's replay (paused), a read does not")
            writers = Clients(base, clients, pace)
            with writers.writing():
                time.sleep(before)
                kill_server(primary)
                lost_at = time.monotonic()
                time.sleep(detect)
                promote(standby)
                echo(f"primary killed; standby promoted {time.monotonic() - lost_at:.1f} s later")
                time.sleep(after)
        outcome = check(standby, writers.answers, lost_at)
        echo(str(outcome))
        return outcome
    finally:
        for cluster in (standby, primary):
            if cluster is not None and cluster.is_running():
                cluster._pg_ctl("stop", "-m", "immediate", "-w", check=False)
        shutil.rmtree(parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=float, default=15.0, help="seconds of writes first")
    parser.add_argument("--after", type=float, default=15.0, help="seconds of writes after")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--pace", type=float, default=0.3, help="seconds between writes")
    parser.add_argument("--detect", type=float, default=1.0, help="seconds before promoting")
    args = parser.parse_args()
    outcome = run(args.before, args.after, args.clients, args.pace, args.detect)
    if (
        outcome.found != outcome.acknowledged
        or outcome.unexpected
        or not (outcome.audit_intact and outcome.audit_matches)
    ):
        raise SystemExit("FAILED: an acknowledged write is missing, or the audit is not whole")


if __name__ == "__main__":
    main()
