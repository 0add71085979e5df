"""``foncier score`` (the precomputed parcel scores) and the reports computed from the
base (``foncier zae-vacancy``)."""

from __future__ import annotations

import click

from app.cli.base import after_import, main, run_import


@main.group()
def score() -> None:
    """Parcel scores for industrial reconversion (precomputed in PostGIS)."""


@score.command("refresh")
@click.option("--departement", default=None, help="Only this département (e.g. 91).")
@click.option("--commune", default=None, help="Only this commune (INSEE code).")
def score_refresh(departement: str | None, commune: str | None) -> None:
    """Recompute criteria and scores, after an import (whole base without options)."""
    from app.db import get_engine
    from geo.scoring.refresh import refresh_scores

    run_import(lambda: refresh_scores(get_engine(), departement=departement, commune=commune))
    after_import(
        cause="score refresh",
        communes=[commune] if commune and not departement else None,
        departements=[departement] if departement and not commune else None,
    )


# -- reports ----------------------------------------------------------------


@main.command("zae-vacancy")
@click.argument("year", type=int)
@click.option("--site", "sites", multiple=True, help="Only these site ids.")
def zae_vacancy(year: int, sites: tuple[str, ...]) -> None:
    """Vacancy of economic sites at 1 January YEAR (art. L318-8-2), from TERRAIN-ECO states."""
    import datetime

    from app.db import get_engine
    from geo.land.zae import vacancy_rates

    with get_engine().connect() as conn:
        rates = vacancy_rates(conn, datetime.date(year, 1, 1), list(sites) or None)
    click.echo(f"{'site_id':<32}{'units':>7}{'vacant':>8}{'rate':>8}  basis")
    for r in rates:
        rate = f"{r.rate:>8.1%}" if r.rate is not None else f"{'?':>8}"
        click.echo(f"{r.site_id:<32}{r.units:>7}{r.vacant_units:>8}{rate}  {r.explained()}")
