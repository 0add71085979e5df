"""The ``foncier`` group and what its commands share: one-line errors, running an import
(or a sync, or a rescoring) and saying its report, the steps after an import."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, TypeVar

import click

from app.settings import get_settings

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> NoReturn:
    """The message on stderr as one line, and exit 1."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group()
def main() -> None:
    """Foncier: land availability for French reindustrialisation."""


def run_import(run: Callable[[], Any]) -> Any:
    """Run an import, a sync or a score refresh: a refusal or a database error is one line
    and exit 1, else its report's lines are printed and the report returned."""
    from sqlalchemy.exc import OperationalError

    from geo.errors import DomainError

    try:
        report = run()
    except DomainError as exc:
        fail(str(exc))
    except OperationalError as exc:
        fail(f"database error: {exc.orig}")
    for line in report.lines():
        click.echo(line)
    return report


def after_import(
    cause: str,
    communes: Iterable[str] | None = None,
    departements: Iterable[str] | None = None,
) -> None:
    """After an import or a rescoring (geo.ingest.post_import): the saved searches whose
    territory holds a commune that may have changed (``communes``, else those of
    ``departements``; neither: every search) re-run, their alerts said and pushed to their
    webhooks (waited for a little at exit, never before the import is committed)."""
    from app.db import get_engine
    from geo.ingest.post_import import after_import as steps

    engine = get_engine()
    done = steps(
        engine,
        cause,
        communes=communes,
        departements=departements,
        rerun_budget_s=get_settings().saved_search_rerun_seconds,
    )
    for line in done.lines():
        click.echo(line)
    push_webhooks(engine, done.alerts)


def push_webhooks(engine: Any, alerts: list[dict[str, Any]]) -> None:
    """The alerts sent to their saved searches' webhooks, waited for a little."""
    from geo.scoring.webhook import deliver_and_wait

    deliver_and_wait(engine, alerts, get_settings().webhook_policy())


def crs_option(function: F) -> F:
    """The ``--crs`` option of the loaders of files that may not declare their CRS."""
    return click.option(
        "--crs",
        "crs",
        default=None,
        help="CRS of the coordinates when the file does not declare it (e.g. EPSG:2154).",
    )(function)


def source_crs(crs: str | None) -> Any:
    """The ``--crs`` option's CRS (None when not given); an unknown one is an error."""
    if crs is None:
        return None
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(crs)
    except CRSError as exc:
        fail(f"unknown CRS {crs!r}: {exc}")
