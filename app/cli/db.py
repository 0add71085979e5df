"""``foncier db``: the embedded PostGIS (start, stop, backups) or the server of
FONCIER_DATABASE_URL; the migrations."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli.base import fail, main
from app.settings import get_settings


@main.group()
def db() -> None:
    """The database: the embedded PostGIS, or the server of FONCIER_DATABASE_URL."""


NOT_EMBEDDED = "FONCIER_DATABASE_URL is set: the embedded PostGIS is not used."


def _embedded_cluster(not_embedded: str = NOT_EMBEDDED):
    """The embedded cluster, or None (said) when FONCIER_DATABASE_URL names a server."""
    from app.localdb.cluster import LocalCluster

    settings = get_settings()
    if not settings.uses_embedded_db:
        click.echo(not_embedded)
        return None
    return LocalCluster.from_settings(settings)


def _on_cluster(action, not_embedded: str = NOT_EMBEDDED) -> None:
    """``action(cluster)`` on the embedded cluster, its failure a one-line error."""
    from app.localdb.cluster import LocalDbError

    cluster = _embedded_cluster(not_embedded)
    if cluster is None:
        return
    try:
        action(cluster)
    except LocalDbError as exc:
        fail(str(exc))


@db.command("start")
def db_start() -> None:
    """Install if needed, initialise and start the embedded PostGIS; create the database."""
    _on_cluster(
        lambda cluster: cluster.start(echo=click.echo),
        "FONCIER_DATABASE_URL is set: using that server, nothing to start.",
    )


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded PostGIS."""
    _on_cluster(lambda cluster: cluster.stop(echo=click.echo))


@db.command("status")
def db_status() -> None:
    """Say whether the embedded PostGIS runs and where its data is (exit 1 when it does
    not run)."""

    def report(cluster) -> None:
        if cluster.data_dir_note:
            click.echo(cluster.data_dir_note)
        if not cluster.is_running():
            click.echo(f"not running ({cluster.data_dir})")
            sys.exit(1)
        click.echo(f"running on 127.0.0.1:{cluster.running_port()} ({cluster.data_dir})")

    _on_cluster(report)


@db.command("clean")
def db_clean() -> None:
    """Stop the embedded PostGIS and delete its data directory (every database in it)."""
    _on_cluster(lambda cluster: cluster.remove(echo=click.echo))


@db.command("backup")
@click.option(
    "--type",
    "kind",
    type=click.Choice(["full", "diff", "incr"]),
    default="full",
    show_default=True,
    help="incr: what changed since the last backup; diff: since the last full one.",
)
def db_backup(kind: str) -> None:
    """Back up the embedded PostGIS with pgBackRest (WAL archiving starts with the first);
    the repository is FONCIER_BACKUP_REPO, by default beside the data directory."""
    from app.localdb.backup import Backups

    def backup(cluster) -> None:
        backups = Backups.of(cluster)
        label = backups.backup(kind)
        click.echo(f"{kind} backup {label} in {backups.repo}")

    _on_cluster(
        backup,
        "FONCIER_DATABASE_URL is set: back that server up with pgBackRest on its host"
        " (docs/operations.md).",
    )


@db.command("backups")
def db_backups() -> None:
    """The backups in the repository and the archived WAL they can be recovered with."""
    from app.localdb.backup import Backups

    _on_cluster(lambda cluster: click.echo(Backups.of(cluster).info()))


@db.command("restore")
@click.option(
    "--to",
    "target",
    required=True,
    help="The time to recover to, with its zone: 2026-12-07T10:15:00Z, 2026-12-07 11:15+01;"
    " or 'latest': all the archived WAL (after the loss of the data directory).",
)
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A new (absent or empty) data directory; the running cluster is left untouched.",
)
@click.option("--port", default=None, type=int, help="Its port (default: a free one).")
def db_restore(target: str, data_dir: Path, port: int | None) -> None:
    """Restore the backups to a point in time into a new data directory and start it there.

    Transactions committed up to the time are in it, none after."""
    import datetime

    from app.localdb.backup import Backups
    from app.localdb.ports import free_port

    when = None
    if target != "latest":
        try:
            when = datetime.datetime.fromisoformat(target.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--to: not an ISO 8601 time nor 'latest': {target!r}")
        if when.tzinfo is None:
            fail("--to: the time needs its zone (Z, +01:00)")

    def restore(cluster) -> None:
        restored = Backups.of(cluster).restore(when, data_dir, port or free_port())
        click.echo(
            f"restored to {when.isoformat() if when else 'the end of the archived WAL'}"
            f" in {restored.data_dir}, running on"
            f" 127.0.0.1:{restored.port}: FONCIER_PG_DATA_DIR={restored.data_dir}"
            f" FONCIER_PG_PORT={restored.port} to use it"
        )

    _on_cluster(restore)


@db.command("url")
def db_url() -> None:
    """Print the SQLAlchemy URL in use."""
    click.echo(get_settings().url_for())


@db.command("migrate")
def db_migrate() -> None:
    """Apply the Alembic migrations up to the latest."""
    from sqlalchemy.exc import OperationalError

    from app.db import migrate

    try:
        migrate()
    except OperationalError as exc:
        fail(f"cannot reach the database ({exc.orig}); run `foncier db start` first")
    click.echo("schema up to date")
