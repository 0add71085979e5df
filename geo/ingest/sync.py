"""`foncier sync`: a territory's share of every catalogued source, fetched and imported.

1. The territory (a commune, an EPCI, a département, a Territoire d'industrie) is resolved
   to its communes and départements from the administrative reference in the base.
2. Each selected source (geo/ingest/sources.toml) is cut into the parts that cover it: one
   per commune, per département, or the national file. A source whose loader this version
   lacks is skipped with that reason; with ``stale_after``, a part synced more recently is
   skipped as fresh.
3. The parts are downloaded (geo.ingest.fetch: retries, resume, conditional requests,
   checks), a few at a time.
4. Each new file is imported by its loader, which writes in one transaction: a failed
   import (a refusal, or any error of the loader) leaves the base as it was and the cached
   copy unchanged (so the next sync tries again), is reported with its reason, and the
   other parts go on. An interruption (Ctrl-C) puts the cache back and stops the sync.
5. The touched communes are rescored, the saved searches re-run on them (alerts), and the
   ``sources`` table records each part's vintage, last success, last error and the import
   that holds its data (lineage).
"""

from __future__ import annotations

import datetime
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.dialects.postgresql import insert

from geo.db.schema import sources
from geo.errors import DomainError, Invalid, NotFound
from geo.ingest.catalogue import Part, Source, load_catalogue, parts
from geo.ingest.fetch import Expect, Fetched, Fetcher, FetchSettings, Progress
from geo.ingest.loaders import BY_NAME, loader
from geo.ingest.post_import import PostImport, after_import
from geo.ingest.redact import public_text
from geo.territories import LEVELS as TERRITORY_LEVELS

LEVELS = ("commune", "epci", "departement", "territoire-industrie")


def loader_for(name: str) -> tuple[Callable[..., Any] | None, str]:
    """The loader function of a source (geo.ingest.loaders: a source whose loader is not
    there, the Géorisques APIs' JSON, API Carto prescriptions, is skipped), or None and why
    not."""
    found = loader(name)
    if found is None:
        return None, f"no loader {name!r} in this version"
    return found.function, ""


# -- the territory --------------------------------------------------------------


@dataclass(frozen=True)
class Territory:
    level: str
    code: str
    communes: list[tuple[str, str]]  # (INSEE, département)
    epcis: dict[str, list[str]] = field(default_factory=dict)  # SIREN -> its communes here

    @property
    def departements(self) -> list[str]:
        return sorted({dep for _, dep in self.communes})

    @property
    def label(self) -> str:
        return f"{self.level}:{self.code}"


_CODE_PATTERNS = {
    "commune": TERRITORY_LEVELS["commune"].pattern,
    "epci": TERRITORY_LEVELS["epci"].pattern,
    "departement": TERRITORY_LEVELS["departement"].pattern,
    "territoire-industrie": TERRITORY_LEVELS["territoire_industrie"].pattern,
}


def resolve(conn: Connection, level: str, code: str) -> Territory:
    """The communes of a territory, from the administrative reference in the base."""
    if level not in LEVELS:
        raise Invalid(f"level must be one of {', '.join(LEVELS)}")
    if not re.fullmatch(_CODE_PATTERNS[level], code):
        raise Invalid(f"{code!r} is not a {level} code")
    where = {
        "commune": "c.insee = :code",
        "epci": "c.epci_siren = :code",
        "departement": "c.departement_code = :code",
        "territoire-industrie": (
            "c.epci_siren IN (SELECT siren FROM epci WHERE territoire_industrie_id = :code)"
        ),
    }[level]
    rows = conn.execute(
        text(
            "SELECT c.insee, c.departement_code, c.epci_siren FROM commune c "
            f"WHERE {where} ORDER BY c.insee"
        ),
        {"code": code},
    ).all()
    if not rows:
        raise NotFound(
            f"no commune in {level} {code}: unknown code, or the administrative reference "
            "is not loaded (foncier sync --only admin, or foncier import admin)"
        )
    epcis: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r.epci_siren:
            epcis[r.epci_siren].append(r.insee)
    return Territory(level, code, [(r.insee, r.departement_code) for r in rows], dict(epcis))


# -- the summary ----------------------------------------------------------------


@dataclass
class PartResult:
    source: str
    part: str
    outcome: str  # fetched | not-modified | missing | failed | skipped
    reason: str = ""
    imported: list[str] = field(default_factory=list)


@dataclass
class SyncSummary:
    territory: str
    results: list[PartResult] = field(default_factory=list)
    skipped_sources: dict[str, str] = field(default_factory=dict)
    # the rescoring and saved searches' re-run after the imports
    after: PostImport = field(default_factory=PostImport)

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return self.after.alerts

    def by_source(self) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = defaultdict(Counter)
        for r in self.results:
            out[r.source][r.outcome] += 1
        return out

    @property
    def failed(self) -> bool:
        return any(r.outcome == "failed" for r in self.results)

    def lines(self) -> list[str]:
        out = [f"sync of {self.territory}:"]
        counts = self.by_source()
        for source, reason in self.skipped_sources.items():
            out.append(f"  {source}: skipped ({reason})")
        for source, c in counts.items():
            order = ("fetched", "not-modified", "missing", "failed", "skipped")
            out.append(f"  {source}: " + ", ".join(f"{c[k]} {k}" for k in order if c[k]))
            mine = [r for r in self.results if r.source == source]
            missing = [r.part.split(":")[-1] for r in mine if r.outcome == "missing"]
            if missing:
                nothing = "nothing at the publisher: 404, 410 or empty"
                out.append(f"    missing ({nothing}): {', '.join(missing)}")
            for r in mine:
                if r.outcome in ("failed", "skipped"):
                    out.append(f"    {r.part}: {r.outcome}: {r.reason}")
                elif r.outcome == "fetched" and r.reason:
                    out.append(f"    {r.part}: {r.reason}")
        if self.after.rescored:
            out.append(f"  rescored: {len(self.after.rescored)} communes")
        return out + [f"  {line}" for line in self.after.lines()]

    def as_json(self) -> dict[str, Any]:
        return {
            "territory": self.territory,
            "sources": {s: dict(c) for s, c in self.by_source().items()},
            "skipped_sources": self.skipped_sources,
            "parts": [r.__dict__ for r in self.results],
            "rescored": self.after.rescored,
            "alerts": [
                {k: a[k] for k in ("id", "saved_search_id", "change", "item_id", "commune_insee")}
                for a in self.alerts
            ],
        }


# -- the sync ---------------------------------------------------------------------


@dataclass(frozen=True)
class SyncOptions:
    cache_dir: Path
    fetch: FetchSettings
    mirror: str | None = None
    only: tuple[str, ...] = ()
    stale_after: datetime.timedelta | None = None
    rescore: bool = True
    # the saved searches' re-runs after the sync, all together (geo.scoring.watch.rerun)
    rerun_budget_s: float = 60.0


def select_sources(only: tuple[str, ...]) -> list[Source]:
    catalogue = load_catalogue()
    unknown = [s for s in only if s not in catalogue]
    if unknown:
        raise Invalid(
            f"unknown source {', '.join(unknown)}; the catalogue has {', '.join(catalogue)}"
        )
    chosen = [catalogue[s] for s in only] if only else list(catalogue.values())
    # the administrative reference first: the others are addressed with it
    return sorted(chosen, key=lambda s: s.id != "admin")


def _fresh_parts(conn: Connection, stale_after: datetime.timedelta) -> set[tuple[str, str]]:
    since = datetime.datetime.now(datetime.UTC) - stale_after
    return {
        (r.source_id, r.part)
        for r in conn.execute(
            text("SELECT source_id, part FROM sources WHERE last_success_at >= :since"),
            {"since": since},
        )
    }


def sync(
    engine: Engine,
    level: str,
    code: str,
    options: SyncOptions,
    progress: Progress | None = None,
    echo: Callable[[str], None] = lambda _m: None,
) -> SyncSummary:
    """Fetch, check and import ``level`` ``code``'s share of the selected sources."""
    chosen = select_sources(options.only)
    summary = SyncSummary(territory=f"{level}:{code}")
    touched: set[str] = set()
    with Fetcher(options.fetch, progress=progress) as fetcher:
        with engine.connect() as conn:
            fresh = _fresh_parts(conn, options.stale_after) if options.stale_after else set()
        admin = [s for s in chosen if s.id == "admin"]
        if admin and (admin[0].id, "national") not in fresh:
            admin_parts = parts(admin[0], [], [], options.mirror)
            _sync_parts(engine, fetcher, admin_parts, options, summary, touched, echo)
        with engine.connect() as conn:
            territory = resolve(conn, level, code)
        todo: list[Part] = []
        for source in chosen:
            if source.id == "admin":
                continue
            _load, why = loader_for(source.loader)
            if _load is None:
                summary.skipped_sources[source.id] = why
                continue
            covering = parts(
                source, territory.communes, territory.departements, options.mirror, territory.epcis
            )
            for part in covering:
                if (source.id, part.key) in fresh:
                    summary.results.append(
                        PartResult(source.id, part.key, "skipped", "fresh (--stale-after)")
                    )
                else:
                    todo.append(part)
        _sync_parts(engine, fetcher, todo, options, summary, touched, echo)
    if touched:
        summary.after = after_import(
            engine,
            f"sync {summary.territory}",
            communes=touched,
            rescore=options.rescore,
            rerun_budget_s=options.rerun_budget_s,
            echo=echo,
        )
    return summary


def _cache_path(cache_dir: Path, part: Part, name: str) -> Path:
    key = part.key.replace(":", "-")
    return cache_dir / part.source.id / key / name


def _sync_parts(
    engine: Engine,
    fetcher: Fetcher,
    todo: list[Part],
    options: SyncOptions,
    summary: SyncSummary,
    touched: set[str],
    echo: Callable[[str], None],
) -> None:
    jobs: list[tuple[str, Path, Expect]] = []
    owners: list[Part] = []
    for part in todo:
        source = part.source
        expect = Expect(source.check, source.content_types, source.columns, source.redirect_hosts)
        for name, url in part.urls.items():
            jobs.append((url, _cache_path(options.cache_dir, part, name), expect))
            owners.append(part)
    fetched = fetcher.fetch_all(jobs)
    per_part: dict[tuple[str, str], list[Fetched]] = defaultdict(list)
    for part, result in zip(owners, fetched, strict=True):
        per_part[(part.source.id, part.key)].append(result)
    for part in todo:
        results = per_part[(part.source.id, part.key)]
        outcome = _import_part(engine, part, results, echo)
        summary.results.append(outcome)
        if outcome.outcome == "fetched":
            touched.update(part.communes)


def _import_part(
    engine: Engine, part: Part, results: list[Fetched], echo: Callable[[str], None]
) -> PartResult:
    sid = part.source.id
    now = datetime.datetime.now(datetime.UTC)
    url = " ".join(r.url for r in results)
    bad = [r for r in results if r.outcome in ("failed", "missing")]
    if bad:
        for r in results:
            r.discard()
        outcome = "missing" if all(r.outcome == "missing" for r in bad) else "failed"
        reason = "; ".join(f"{r.url}: {r.reason}" for r in bad)
        _record(engine, sid, part.key, url, error=reason, at=now)
        return PartResult(sid, part.key, outcome, reason)
    if all(r.outcome == "not-modified" for r in results):
        _record(engine, sid, part.key, url, results=results, at=now, success=True)
        return PartResult(sid, part.key, "not-modified", results[0].reason)
    load, why = loader_for(part.source.loader)
    assert load is not None, why
    # The new files take their final names (the loader records that path in import_run),
    # the previous copies kept aside and put back if the import is refused: the cache then
    # still matches the base, and the next sync fetches the new file again.
    swapped = [r for r in results if r.outcome == "fetched"]
    backups = [r.swap_in() for r in swapped]
    if BY_NAME[part.source.loader].directory:
        target, source_path = results[0].path.parent, results[0].path.parent / "communes.json"
    else:
        target = source_path = results[0].path
    try:
        report = load(engine, target)
    except BaseException as exc:
        for r, backup in zip(swapped, backups, strict=True):
            r.swap_back(backup)
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt, SystemExit: the cache is back, the sync stops
        if isinstance(exc, DomainError):
            _record(engine, sid, part.key, url, error=str(exc), at=now)
            return PartResult(sid, part.key, "failed", f"import refused: {exc}")
        # a loader's unexpected error fails its part, never the whole sync
        first = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else ""
        reason = f"import failed: {type(exc).__name__}" + (f": {first}" if first else "")
        _record(engine, sid, part.key, url, error=reason, at=now)
        return PartResult(sid, part.key, "failed", reason)
    for r, backup in zip(swapped, backups, strict=True):
        r.keep(backup)
    for line in report.lines():
        echo(line)
    with engine.begin() as conn:
        run_id = conn.execute(
            text("SELECT max(id) FROM import_run WHERE source = :s"), {"s": str(source_path)}
        ).scalar()
    _record(engine, sid, part.key, url, results=results, at=now, success=True, run_id=run_id)
    changed = [r for r in results if r.outcome == "fetched"]
    reason = ""
    if any(r.previous_sha256 for r in changed):
        reason = "changed: " + ", ".join(
            f"{r.path.name} sha256 {(r.previous_sha256 or '-')[:12]} -> {(r.sha256 or '')[:12]}"
            for r in changed
        )
    if any(r.resumed for r in changed):
        reason = (reason + "; " if reason else "") + "resumed with Range"
    return PartResult(sid, part.key, "fetched", reason, imported=report.lines())


def _record(
    engine: Engine,
    source_id: str,
    part: str,
    url: str,
    *,
    at: datetime.datetime,
    results: list[Fetched] | None = None,
    error: str | None = None,
    success: bool = False,
    run_id: int | None = None,
) -> None:
    # GET /sources shows this row to anyone: no credentials, no server path (redact.py)
    values: dict[str, Any] = {"url": public_text(url), "last_checked_at": at}
    if success and results:
        r = results[0]
        values |= {
            "etag": r.etag,
            "last_modified": r.last_modified,
            "sha256": r.sha256,
            "bytes": sum(x.size for x in results),
            "vintage": r.vintage or at,
            "last_success_at": at,
            "last_error": None,
            "last_error_at": None,
        }
        if run_id is not None:
            values["import_run_id"] = run_id
        if any(x.outcome == "not-modified" for x in results) and not run_id:
            # a 304 tells nothing new about the vintage: keep the one recorded
            values.pop("vintage")
    if error is not None:
        values |= {"last_error": (public_text(error) or "")[:2000], "last_error_at": at}
    stmt = insert(sources).values(source_id=source_id, part=part, **values)
    with engine.begin() as conn:
        conn.execute(stmt.on_conflict_do_update(index_elements=["source_id", "part"], set_=values))


def sources_state(conn: Connection) -> list[dict[str, Any]]:
    """The catalogue, each source with its synced parts (vintage, last success, last error,
    lineage to import_run) — what GET /sources answers."""
    rows = conn.execute(
        text(
            """SELECT s.source_id, s.part, s.url, s.sha256, s.bytes, s.vintage,
                      s.last_checked_at, s.last_success_at, s.last_error, s.last_error_at,
                      s.import_run_id, r.finished_at AS imported_at,
                      coalesce(r.synthetic, false) AS synthetic
               FROM sources s LEFT JOIN import_run r ON r.id = s.import_run_id
               ORDER BY s.source_id, s.part"""
        )
    ).mappings()
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        part = {
            k: (v.isoformat() if isinstance(v, datetime.datetime) else v)
            for k, v in row.items()
            if k != "source_id"
        }
        # cleaned when written; again here for rows an older version wrote
        part["url"], part["last_error"] = public_text(part["url"]), public_text(part["last_error"])
        by_source[row["source_id"]].append(part)
    out = []
    for source in load_catalogue().values():
        _load, why = loader_for(source.loader)
        out.append(
            {
                **source.describe(),
                "loader_available": _load is not None,
                **({"loader_missing": why} if _load is None else {}),
                "parts": by_source.get(source.id, []),
                # a part's data is made-up demonstration data (import_run.synthetic)
                "synthetic": any(p["synthetic"] for p in by_source.get(source.id, [])),
            }
        )
    return out
