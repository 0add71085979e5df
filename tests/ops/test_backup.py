"""The point-in-time recovery drill, on a throwaway cluster: ledger writes, a full backup,
more writes, an incremental backup, more, a time noted, more; a restore to that time into a
new data directory finds exactly the writes acknowledged before it, ledger, audit chain and
projects consistent. Prints the recovery time it measured (pytest -s)."""

from __future__ import annotations

import datetime
import shutil
import time

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from app.db import migrate
from app.localdb.backup import Backups
from app.localdb.cluster import LocalCluster, LocalDbError
from app.localdb.ports import free_port
from app.security.audit_chain import verify
from app.services import ledger
from geo.access import Principal
from geo.ingest.admin import load_admin
from geo.ledger.reports import balance
from geo.ledger.write import ProjectDraft
from geo.zan.rulesets import get_ruleset
from tests.helpers import DATA, PARIS_SACLAY
from tests.helpers.ledger import square

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        shutil.which("pgbackrest") is None, reason="pgbackrest is not installed (./dev test does)"
    ),
]

ADMIN = Principal(name="Équipe Foncier", role="admin")


def engine_of(cluster: LocalCluster) -> Engine:
    return create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/{cluster.db_name}",
        poolclass=NullPool,
    )


def write(engine: Engine, batch: str, n: int) -> list[str]:
    """n projects, each recorded then authorised: two ledger entries and two audit rows."""
    names = []
    for i in range(n):
        name = f"{batch}{i}"
        draft = ProjectDraft(
            name=name, kind="industrial", epci_siren=PARIS_SACLAY,
            geometry=square(2.290 + 0.003 * i, 48.700 - 0.003 * len(batch), 80),
        )  # fmt: skip
        with engine.connect() as conn:
            pid = ledger.record_project(conn, ADMIN, draft, None)["id"]
            ledger.change_status(
                conn, ADMIN, pid, "authorised", reason="drill", occurred_on=None,
                overdraft=False,
            )  # fmt: skip
        names.append(name)
    return names


def state(engine: Engine) -> tuple[list[str], int, int, str, float]:
    """Projects, ledger entries, audit rows, the audit verdict and the reserved hectares."""
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM project ORDER BY id")).scalars().all()
        entries = conn.execute(text("SELECT count(*) FROM envelope_entry")).scalar_one()
        audit_rows = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
        verdict = verify(conn)
        reserved = balance(conn, get_ruleset(None, kind="envelope")).reserved_ha
    return list(names), entries, audit_rows, verdict.message, float(reserved)


def test_restore_to_a_time_finds_exactly_what_was_acknowledged_before_it(
    throwaway_cluster: LocalCluster,
) -> None:
    cluster = throwaway_cluster
    cluster.start(echo=lambda _m: None)
    engine = engine_of(cluster)
    migrate(url=str(engine.url))
    load_admin(engine, DATA / "admin")
    backups = Backups.of(cluster)

    before = write(engine, "a", 3)
    full = backups.backup("full")
    before += write(engine, "b", 2)
    incr = backups.backup("incr")
    before += write(engine, "c", 2)
    with engine.connect() as conn:
        target = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    expected = state(engine)
    after = write(engine, "d", 2)
    assert state(engine)[0] == before + after
    backups.archive_now()  # what archive_timeout does within a minute on its own

    restored = None
    started = time.monotonic()
    try:
        restored = backups.restore(target, cluster.data_dir.parent / "restored", free_port())
        recovery_seconds = time.monotonic() - started
        restored_engine = engine_of(restored)
        found = state(restored_engine)
        # the restored cluster accepts writes, and its audit chain goes on from its head
        write(restored_engine, "e", 1)
        with restored_engine.connect() as conn:
            assert verify(conn).intact
    finally:
        if restored is not None and restored.is_running():
            restored.stop(echo=lambda _m: None)
    assert found == expected
    names, entries, audit_rows, verdict, _ = found
    assert names == before and entries == 2 * len(before) and audit_rows == 2 * len(before)
    assert verdict.startswith(f"audit chain intact: {audit_rows} rows")
    assert full.endswith("F") and incr.endswith("I")
    print(f"\nrestore to a time (backups {full}, {incr}): {recovery_seconds:.1f} s")


def test_a_restore_goes_into_a_new_directory(throwaway_cluster: LocalCluster) -> None:
    backups = Backups.of(throwaway_cluster)
    now = datetime.datetime.now(datetime.UTC)
    with pytest.raises(LocalDbError, match="no backup repository"):
        backups.restore(now, throwaway_cluster.data_dir.parent / "new", free_port())
    throwaway_cluster.data_dir.mkdir(parents=True)
    (throwaway_cluster.data_dir / "PG_VERSION").write_text("15\n")
    with pytest.raises(LocalDbError, match="not empty"):
        backups.restore(now, throwaway_cluster.data_dir, free_port())
    with pytest.raises(LocalDbError, match="time zone"):
        backups.restore(now.replace(tzinfo=None), throwaway_cluster.data_dir, free_port())


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("yesterday", "not an ISO 8601 time nor 'latest'"),
        ("2026-12-07T10:15:00", "the time needs its zone"),
    ],
)
def test_the_restore_time_is_checked_first(to: str, message: str, tmp_path) -> None:
    from click.testing import CliRunner

    from app.cli import main

    result = CliRunner().invoke(main, ["db", "restore", "--to", to, "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and message in result.output
