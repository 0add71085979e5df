"""``foncier import``: one command per loader of geo.ingest.loaders, those with options
of their own, and the demo data."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import click

from app.cli.base import after_import, crs_option, main, run_import, source_crs
from app.settings import get_settings
from geo.ingest.loaders import BY_NAME, LOADERS, Loader


@main.group("import")
def import_() -> None:
    """Load data into the database (each file in one transaction; re-running updates)."""


def _import_files(files, load, unit: str | None = None) -> None:
    """``load(path, progress)`` for each file, each in its own transaction; with ``unit``,
    a progress bar, shown on a terminal only (logs and CI get the summary alone)."""
    from tqdm import tqdm

    # the départements each file covered, when its loader says (None: it does not, and
    # every saved search is re-run)
    departements: set[str] | None = set()
    for path in files:
        click.echo(f"{path}:")
        hidden = unit is None or not sys.stderr.isatty()
        with tqdm(unit=unit or "", disable=hidden, leave=False) as bar:
            report = run_import(partial(load, path, bar.update))
        if departements is not None and getattr(report, "departements", None):
            departements |= report.departements
        else:
            departements = None
    after_import(cause="import " + ", ".join(str(p) for p in files), departements=departements)


@import_.command("admin", help=BY_NAME["admin"].help)
@click.argument(
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=False,
)
def import_admin(directory: Path | None) -> None:
    from app.db import get_engine

    directory = directory or get_settings().data_dir / "admin"
    run_import(lambda: BY_NAME["admin"].function(get_engine(), directory))


@import_.command("cadastre", help=BY_NAME["cadastre"].help)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--repair",
    is_flag=True,
    help="Repair invalid geometries with ST_MakeValid (counted) instead of rejecting the file.",
)
def import_cadastre(files: tuple[Path, ...], repair: bool) -> None:
    from app.db import get_engine

    load = BY_NAME["cadastre"].function
    _import_files(
        files,
        lambda path, progress: load(get_engine(), path, repair=repair, on_batch=progress),
        unit=" features",
    )


# The loaders whose command has options of its own (below); the others take files (and
# --crs for some): one command per name of each, from geo.ingest.loaders.
_OWN_COMMANDS = {"admin", "cadastre", "consumption"}


def _file_command(name: str, loader: Loader) -> None:
    def command(files: tuple[Path, ...], crs: str | None = None) -> None:
        from app.db import get_engine

        load = loader.function
        options = {"source_crs": source_crs(crs)} if loader.crs_option else {}
        _import_files(files, lambda path, _: load(get_engine(), path, **options))

    command = click.argument(
        "files",
        nargs=1 if loader.one_file else -1,
        metavar="FILE" if loader.one_file else "FILES...",
        required=True,
        type=click.Path(path_type=Path),
        callback=(lambda _ctx, _param, path: (path,)) if loader.one_file else None,
    )(command)
    if loader.crs_option:
        command = crs_option(command)
    formats = f"\n\nAccepted: {', '.join(loader.formats)}."
    help_text = loader.help if name == loader.name else f"The same as `import {loader.name}`."
    help_text += formats
    import_.command(name, help=help_text)(command)


for _loader in LOADERS:
    for _name in _loader.names:
        if _name not in _OWN_COMMANDS:
            _file_command(_name, _loader)


@import_.command("consumption", help=BY_NAME["consumption"].help)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--vintage", type=int, default=None, help="Vintage (default: last flow year + 1).")
def import_consumption(files: tuple[Path, ...], vintage: int | None) -> None:
    from app.db import get_engine

    load = BY_NAME["consumption"].function
    _import_files(files, lambda path, _: load(get_engine(), path, vintage=vintage))


@import_.command("economic-sites")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["commercial_zone", "site_cle_en_main", "zae"]),
    required=True,
    help="What the file lists.",
)
@crs_option
def import_economic_sites(files: tuple[Path, ...], kind: str, crs: str | None) -> None:
    """Commercial zones or labelled sites clés en main: GeoJSON, or CSV with WKT (geom).

    Columns: id, nom, insee; optional taux_vacance (%), surface_ha, vocation, epci_siren.
    """
    from app.db import get_engine
    from geo.ingest.zae import load_economic_sites

    crs_of_file = source_crs(crs)
    _import_files(
        files,
        lambda path, _: load_economic_sites(get_engine(), path, kind=kind, source_crs=crs_of_file),
    )


@import_.command("dem")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def import_dem(files: tuple[Path, ...]) -> None:
    """Elevation raster (GeoTIFF, any CRS): per-parcel min/mean/max elevation and slope."""
    from app.db import get_engine
    from geo.ingest.raster import parcel_terrain

    _import_files(
        files,
        lambda path, progress: parcel_terrain(get_engine(), path, progress=progress),
        unit=" tiles",
    )


@import_.command("hazard")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--hazard", default="flood", show_default=True, help="Name of the hazard.")
def import_hazard(files: tuple[Path, ...], hazard: str) -> None:
    """Hazard raster of integer classes (e.g. flood 0-3): share of each parcel per class."""
    from app.db import get_engine
    from geo.ingest.raster import parcel_hazard

    _import_files(
        files,
        lambda path, progress: parcel_hazard(get_engine(), path, hazard=hazard, progress=progress),
        unit=" tiles",
    )


@import_.command("demo")
def import_demo() -> None:
    """All the real demo data shipped under data/ (see data/README.md)."""
    from app.db import get_engine
    from app.services.demo import demo_steps

    data = get_settings().data_dir
    engine = get_engine()
    steps = demo_steps(data)
    for path, load in steps:
        click.echo(f"{path.relative_to(data)}:")
        run_import(partial(load, engine, path))
    from geo.scoring.refresh import refresh_scores

    click.echo("scores:")
    for line in refresh_scores(engine).lines():
        click.echo(line)
