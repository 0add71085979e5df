"""``foncier sync`` (a territory's open data fetched, checked, imported, rescored) and
``foncier sources`` (the catalogue it reads)."""

from __future__ import annotations

import sys

import click

from app.cli.base import fail, main, push_webhooks, run_import
from app.settings import get_settings


def _duration(value: str | None):
    import datetime
    import re

    if value is None:
        return None
    match = re.fullmatch(r"([0-9]{1,5})([dh])", value)
    if not match:
        fail(f"--stale-after takes a number of days or hours, e.g. 30d or 12h, not {value!r}")
    n = int(match.group(1))
    return datetime.timedelta(days=n) if match.group(2) == "d" else datetime.timedelta(hours=n)


@main.command("sync")
@click.option("--commune", default=None, help="A commune (INSEE code).")
@click.option("--epci", default=None, help="An EPCI (SIREN).")
@click.option("--departement", default=None, help="A département (code).")
@click.option("--territoire-industrie", "ti", default=None, help="A Territoire d'industrie (id).")
@click.option(
    "--only", multiple=True, help="Only this source (repeatable; `foncier sources` lists them)."
)
@click.option(
    "--stale-after",
    default=None,
    help="Only the parts last synced longer ago than this (e.g. 30d, 12h): for cron.",
)
@click.option("--no-rescore", is_flag=True, help="Do not rescore the touched communes.")
def sync_command(
    commune: str | None,
    epci: str | None,
    departement: str | None,
    ti: str | None,
    only: tuple[str, ...],
    stale_after: str | None,
    no_rescore: bool,
) -> None:
    """Fetch a territory's open data from its publishers, check it, import it, rescore.

    Each part (a commune's file, a département's, a national file) is downloaded with
    retries and resumption, revalidated (an unchanged file is not fetched again), checked,
    cached with its SHA-256 under FONCIER_SYNC_CACHE_DIR, then imported in one
    transaction. A failed part leaves the base as it was; the others go on. Exit 1 when a
    part failed.
    """
    from tqdm import tqdm

    from app.db import get_engine
    from geo.ingest.sync import SyncOptions, sync

    chosen = [(lvl, c) for lvl, c in (("commune", commune), ("epci", epci),
              ("departement", departement), ("territoire-industrie", ti)) if c]  # fmt: skip
    if len(chosen) != 1:
        fail("give one territory: --commune, --epci, --departement or --territoire-industrie")
    level, code = chosen[0]
    settings = get_settings()
    options = SyncOptions(
        cache_dir=settings.sync_cache_dir,
        fetch=settings.fetch_settings(),
        mirror=settings.sync_mirror,
        only=only,
        stale_after=_duration(stale_after),
        rescore=not no_rescore,
        rerun_budget_s=settings.saved_search_rerun_seconds,
    )
    hidden = not sys.stderr.isatty()

    def progress(name: str, total: int | None):
        # one bar per file while it downloads, gone once it has arrived
        return tqdm(desc=name, total=total, unit="B", unit_scale=True, disable=hidden, leave=False)

    engine = get_engine()
    summary = run_import(
        lambda: sync(engine, level, code, options, progress=progress, echo=click.echo)
    )
    push_webhooks(engine, summary.alerts)
    if summary.failed:
        sys.exit(1)


@main.command("sources")
def sources_command() -> None:
    """The catalogue of sources `foncier sync` knows (geo/ingest/sources.toml)."""
    from geo.ingest.catalogue import load_catalogue
    from geo.ingest.sync import loader_for

    for source in load_catalogue().values():
        load, why = loader_for(source.loader)
        state = "" if load else f"  [skipped: {why}]"
        click.echo(f"{source.id:<26}{source.scope:<12}{source.producer}{state}")
        click.echo(f"{'':<26}{source.url or ', '.join(source.files.values())}")
