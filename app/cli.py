"""The ``foncier`` command line: database lifecycle, imports and the web server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from app.settings import get_settings
from geo.ingest.loaders import BY_NAME, LOADERS, Loader


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group()
def main() -> None:
    """Foncier: land availability for French reindustrialisation."""


# -- database -------------------------------------------------------------


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
        _fail(str(exc))


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
            _fail(f"--to: not an ISO 8601 time nor 'latest': {target!r}")
        if when.tzinfo is None:
            _fail("--to: the time needs its zone (Z, +01:00)")

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
        _fail(f"cannot reach the database ({exc.orig}); run `foncier db start` first")
    click.echo("schema up to date")


# -- imports --------------------------------------------------------------


@main.group("import")
def import_() -> None:
    """Load data into the database (each file in one transaction; re-running updates)."""


def _run_import(run):
    """Run an import, a sync or a score refresh: a refusal or a database error is one line
    and exit 1, else its report's lines are printed and the report returned."""
    from sqlalchemy.exc import OperationalError

    from geo.errors import DomainError

    try:
        report = run()
    except DomainError as exc:
        _fail(str(exc))
    except OperationalError as exc:
        _fail(f"database error: {exc.orig}")
    for line in report.lines():
        click.echo(line)
    return report


def _rerun_saved_searches(cause: str, communes=None, departements=None) -> None:
    """After an import or a rescoring: the saved searches whose territory holds a commune
    that may have changed (``communes``, else those of ``departements``; neither: every
    search) re-run, their alerts said and pushed to their webhooks (waited for a little at
    exit, never before the import is committed)."""
    from sqlalchemy import text

    from app.db import get_engine
    from geo.scoring.watch import communes_of, rerun

    engine = get_engine()
    with engine.connect() as conn:
        if not conn.execute(text("SELECT EXISTS (SELECT 1 FROM saved_search)")).scalar():
            return
        if communes is None and departements:
            communes = communes_of(conn, departements)
    settings = get_settings()
    alerts, problems = rerun(
        engine, communes, cause=cause, budget_s=settings.saved_search_rerun_seconds
    )
    for a in alerts:
        click.echo(
            f"alert: {a['change']} {a['item_id']} in {a['commune_insee']} "
            f"(saved search {a['saved_search_id']} {a['saved_search_name']!r})"
        )
    for p in problems:
        click.echo(f"saved search not run: {p}")
    _push_webhooks(engine, alerts)


def _push_webhooks(engine, alerts) -> None:
    from geo.scoring.webhook import deliver_and_wait

    deliver_and_wait(engine, alerts, get_settings().webhook_policy())


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
            report = _run_import(lambda path=path, bar=bar: load(path, bar.update))
        if departements is not None and getattr(report, "departements", None):
            departements |= report.departements
        else:
            departements = None
    _rerun_saved_searches(
        cause="import " + ", ".join(str(p) for p in files), departements=departements
    )


@import_.command("admin", help=BY_NAME["admin"].help)
@click.argument(
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=False,
)
def import_admin(directory: Path | None) -> None:
    from app.db import get_engine

    directory = directory or get_settings().data_dir / "admin"
    _run_import(lambda: BY_NAME["admin"].function(get_engine(), directory))


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


def _crs_option(function):
    return click.option(
        "--crs",
        "crs",
        default=None,
        help="CRS of the coordinates when the file does not declare it (e.g. EPSG:2154).",
    )(function)


def _source_crs(crs: str | None):
    if crs is None:
        return None
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(crs)
    except CRSError as exc:
        _fail(f"unknown CRS {crs!r}: {exc}")


# The loaders whose command has options of its own (below); the others take files (and
# --crs for some): one command per name of each, from geo.ingest.loaders.
_OWN_COMMANDS = {"admin", "cadastre", "consumption"}


def _file_command(name: str, loader: Loader) -> None:
    def command(files: tuple[Path, ...], crs: str | None = None) -> None:
        from app.db import get_engine

        load = loader.function
        options = {"source_crs": _source_crs(crs)} if loader.crs_option else {}
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
        command = _crs_option(command)
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
@_crs_option
def import_economic_sites(files: tuple[Path, ...], kind: str, crs: str | None) -> None:
    """Commercial zones or labelled sites clés en main: GeoJSON, or CSV with WKT (geom).

    Columns: id, nom, insee; optional taux_vacance (%), surface_ha, vocation, epci_siren.
    """
    from app.db import get_engine
    from geo.ingest.zae import load_economic_sites

    source_crs = _source_crs(crs)
    _import_files(
        files,
        lambda path, _: load_economic_sites(get_engine(), path, kind=kind, source_crs=source_crs),
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
        _run_import(lambda path=path, load=load: load(engine, path))
    from geo.scoring.refresh import refresh_scores

    click.echo("scores:")
    for line in refresh_scores(engine).lines():
        click.echo(line)


# -- sync -----------------------------------------------------------------------


def _duration(value: str | None):
    import datetime
    import re

    if value is None:
        return None
    match = re.fullmatch(r"([0-9]{1,5})([dh])", value)
    if not match:
        _fail(f"--stale-after takes a number of days or hours, e.g. 30d or 12h, not {value!r}")
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
        _fail("give one territory: --commune, --epci, --departement or --territoire-industrie")
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
    summary = _run_import(
        lambda: sync(engine, level, code, options, progress=progress, echo=click.echo)
    )
    _push_webhooks(engine, summary.alerts)
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


# -- scores -------------------------------------------------------------------


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

    _run_import(lambda: refresh_scores(get_engine(), departement=departement, commune=commune))
    _rerun_saved_searches(
        cause="score refresh",
        communes=[commune] if commune and not departement else None,
        departements=[departement] if departement and not commune else None,
    )


# -- tokens -------------------------------------------------------------------


def _cli_principal():
    import getpass

    from geo.access import Principal

    return Principal(name=f"cli:{getpass.getuser()}", role="admin")


@main.group()
def token() -> None:
    """API tokens (stored hashed; the secret is shown once, at creation)."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(["epci_editor", "prefecture", "admin"]))
@click.option(
    "--territory",
    default=None,
    help="epci:SIREN for an EPCI editor; departement:CODE or region:CODE for a prefecture.",
)
@click.option("--name", required=True, help="Who holds it, e.g. 'SIG CA Paris-Saclay'.")
def token_create(role: str, territory: str | None, name: str) -> None:
    """Create a token and print its secret (only now: it is not stored)."""
    from app.db import get_engine
    from app.security import audit
    from app.security.tokens import create_token
    from geo.errors import DomainError

    principal = _cli_principal()
    try:
        with get_engine().begin() as conn:
            token_id, secret = create_token(
                conn, name=name, role=role, territory=territory, created_by=principal.name
            )
            after = {"name": name, "role": role, "territory": territory}
            audit.record(conn, principal, "token.create", "api_token", token_id, after=after)
    except DomainError as exc:
        _fail(str(exc))
    click.echo(f"token {token_id} ({role}{' ' + territory if territory else ''}) for {name}:")
    click.echo(secret)


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token: its next request gets 401."""
    from app.db import get_engine
    from app.security import audit
    from app.security.tokens import revoke_token

    principal = _cli_principal()
    with get_engine().begin() as conn:
        if not revoke_token(conn, token_id):
            _fail(f"no active token {token_id}")
        audit.record(
            conn, principal, "token.revoke", "api_token", token_id, after={"revoked": True}
        )
    click.echo(f"token {token_id} revoked")


@token.command("list")
def token_list() -> None:
    """Tokens with their role, territory and state (never their secret)."""
    from app.db import get_engine
    from app.security.tokens import list_tokens

    with get_engine().connect() as conn:
        tokens = list_tokens(conn)
    for t in tokens:
        territory = f"{t['territory_level']}:{t['territory_code']}" if t["territory_level"] else "-"
        state = f"revoked {t['revoked_at']:%Y-%m-%d}" if t["revoked_at"] else "active"
        click.echo(f"{t['id']:>4}  {t['role']:<12} {territory:<22} {state:<18} {t['name']}")


# -- audit --------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The audit log's hash chain: verify it, export its head for publication."""


@audit_group.command("verify")
@click.option(
    "--head",
    "published",
    default=None,
    metavar="HEAD",
    help="A head published earlier: the JSON `foncier audit head` printed, a file holding"
    " it, or its hash. History up to it must be unchanged.",
)
def audit_verify(published: str | None) -> None:
    """Recompute the chain; one line: intact (exit 0) or the first row changed, removed or
    reordered (exit 1)."""
    from app.db import get_engine
    from app.security.audit_chain import Head, verify

    published_head = None
    if published is not None:
        if Path(published).is_file():
            published = Path(published).read_text()
        try:
            published_head = Head.parse(published)
        except (ValueError, KeyError) as exc:
            _fail(f"--head: {exc}")
    with get_engine().connect() as conn:
        verdict = verify(conn, published_head)
    if not verdict.intact:
        _fail(verdict.message)
    click.echo(verdict.message)


@audit_group.command("head")
def audit_head() -> None:
    """Print the chain's head (seq, id, hash, time) as JSON, for an operator to publish."""
    import json

    from app.db import get_engine
    from app.security.audit_chain import head

    with get_engine().connect() as conn:
        click.echo(json.dumps(head(conn).as_dict()))


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


# -- tiles: warm a running server's tile cache ------------------------------
# (a command group of its own, to be moved into the app/cli package as it is)


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
        _fail("give one territory: --epci, --commune or --departement")
    (level, code), *_ = asked
    try:
        with get_engine().connect() as conn:
            tiles = territory_tiles(conn, level, code, range(min_zoom, max_zoom + 1))
    except DomainError as exc:
        _fail(str(exc))
    click.echo(f"{len(tiles)} tiles of {level} {code}, zooms {min_zoom}-{max_zoom}")
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            report = warm_tiles(client, collection, tiles, workers=workers)
    except httpx.HTTPError as exc:
        _fail(f"{url}: {exc}")
    for line in report.lines():
        click.echo(line)
    if report.failed:
        _fail(f"{report.failed} tiles failed")


# -- web server -----------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int, envvar="FONCIER_PORT")
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API with uvicorn (OpenAPI docs at /docs); the port also from FONCIER_PORT."""
    import uvicorn

    from app.localdb.ports import PortBusy, check_port

    try:
        check_port(port, "FONCIER_PORT", host)
    except PortBusy as exc:
        _fail(str(exc))
    uvicorn.run("app.api.main:app", host=host, port=port, workers=workers)


if __name__ == "__main__":
    main()
