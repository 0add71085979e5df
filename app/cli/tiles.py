"""``foncier tiles``: vector tiles of a running server (warming its tile cache)."""

from __future__ import annotations

import click

from app.cli.base import fail, main


@main.group("tiles")
def tiles_group() -> None:
    """Vector tiles of a running server."""


@tiles_group.command("warm")
@click.option("--epci", help="SIREN of an EPCI.")
@click.option("--commune", help="INSEE code of a commune.")
@click.option("--departement", help="Code of a département.")
@click.option("--min-zoom", default=13, show_default=True, type=int)
@click.option("--max-zoom", default=16, show_default=True, type=int)
@click.option("--collection", default="parcels", show_default=True, help="Tiled collection.")
@click.option(
    "--url",
    default="http://127.0.0.1:8000/",
    show_default=True,
    envvar="FONCIER_URL",
    help="The server whose cache to fill (each worker process keeps its own).",
)
@click.option("--workers", default=2, show_default=True, type=int, help="Requests at once.")
def tiles_warm(
    epci: str | None,
    commune: str | None,
    departement: str | None,
    min_zoom: int,
    max_zoom: int,
    collection: str,
    url: str,
    workers: int,
) -> None:
    """Request every tile over a territory, so that the server's tile cache holds them."""
    import httpx

    from app.db import get_engine
    from app.services.tiles import territory_tiles, warm_tiles
    from geo.errors import DomainError

    asked = [(lvl, c) for lvl, c in (("epci", epci), ("commune", commune),
                                     ("departement", departement)) if c]  # fmt: skip
    if len(asked) != 1:
        fail("give one territory: --epci, --commune or --departement")
    (level, code), *_ = asked
    try:
        with get_engine().connect() as conn:
            tiles = territory_tiles(conn, level, code, range(min_zoom, max_zoom + 1))
    except DomainError as exc:
        fail(str(exc))
    click.echo(f"{len(tiles)} tiles of {level} {code}, zooms {min_zoom}-{max_zoom}")
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            report = warm_tiles(client, collection, tiles, workers=workers)
    except httpx.HTTPError as exc:
        fail(f"{url}: {exc}")
    for line in report.lines():
        click.echo(line)
    if report.failed:
        fail(f"{report.failed} tiles failed")
