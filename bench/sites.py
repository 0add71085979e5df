"""Candidate sites over whole EPCIs: the time of a site search (geo.scoring.sites.
search_sites, as `/sites/search` calls it, with its budget) on every EPCI of the demo and on
a 35,000-parcel synthetic EPCI, and whether its sites are those of an unbounded walk.

    .venv/bin/python -m bench.sites [--runs 10] [--reuse] [--db foncier_bench_sites]

The database holds the demo (`foncier import demo`'s steps) and the real 91216 parcels
copied nine times (bench.import_cadastre.build_input), each copy filed under a commune of
the CA Communauté Paris-Saclay outside the demo: with 91216 itself, 42,410 parcels in
one EPCI. Scores are
refreshed once; each case is then run ``--runs`` times after one warm-up, in-process.
"""

from __future__ import annotations

import argparse
import statistics
import time

import psycopg
from psycopg import sql
from sqlalchemy import text

from app.db import make_engine, migrate
from app.services.demo import demo_steps
from app.settings import PROJECT_DIR, get_settings
from bench.import_cadastre import build_input, conninfo
from geo.errors import Invalid
from geo.ingest.cadastre import load_cadastre
from geo.scoring import sites
from geo.scoring.adjacency import forget, pairs_of, refresh_adjacency
from geo.scoring.profiles import get_profile
from geo.scoring.refresh import refresh_scores
from geo.scoring.search import Filters
from geo.scoring.sites import grow_sites, search_sites

DB = "foncier_bench_sites"
SYNTHETIC_EPCI = "200056232"  # CA Communauté Paris-Saclay
COPIES = 9
BUDGET_S = 3.0  # FONCIER_SITE_SEARCH_SECONDS's default


def build(db: str) -> None:
    url = get_settings().url_for(db)
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    migrate(url=url)
    engine = make_engine(url)
    for path, load in demo_steps(PROJECT_DIR / "data"):
        load(engine, path)
    with engine.connect() as conn:
        taken = set(conn.execute(text("SELECT DISTINCT commune_insee FROM parcel")).scalars())
        communes = [
            c
            for c in conn.execute(
                text("SELECT insee FROM commune WHERE epci_siren = :e ORDER BY insee"),
                {"e": SYNTHETIC_EPCI},
            ).scalars()
            if c not in taken and c != "91216"
        ][:COPIES]
    # copy k lies k steps east of the real parcels: copy 0, under 91216 itself, is the
    # real 91216 again (same ids, unchanged), copies 1-9 are filed under other communes
    load_cadastre(engine, build_input(COPIES + 1, ["91216", *communes]))
    started = time.perf_counter()
    refresh_scores(engine, workers=2)
    print(f"scores refreshed in {time.perf_counter() - started:.1f} s")
    engine.dispose()


def cases(conn) -> list[tuple[str, str, float, float, str | None]]:
    """(label, EPCI, min_area, gap, profile) for every EPCI holding parcels."""
    epcis = conn.execute(
        text(
            "SELECT c.epci_siren, count(*) FROM parcel p JOIN commune c ON c.insee = "
            "p.commune_insee WHERE c.epci_siren IS NOT NULL GROUP BY 1 ORDER BY 2"
        )
    ).all()
    found = []
    for epci, n in epcis:
        for min_area, gap, profile in (
            (5.0, 0.0, None),
            (10.0, 0.0, "large-industrial-site"),
            (2.0, 0.0, None),
            (5.0, 20.0, None),
        ):
            label = f"EPCI {epci} ({n:,} parcels) >= {min_area:g} ha, gap {gap:g} m"
            if profile:
                label += f", {profile}"
            found.append((label, epci, min_area, gap, profile))
    return found


def unbounded(conn, profile, epci: str, min_area: float, gap: float) -> list[list[str]]:
    """The best 20 sites of the plain walk: every seed walked (no limit, no block passed
    over, no budget), over the stored pairs (gap 0; tests/scoring/test_sites.py checks them against
    the geometries) or the pairs tested in one query."""
    budget = sites._Budget(conn, None)
    parcels, communes = sites._eligible(conn, profile, Filters(epci=epci), budget)
    pairs = pairs_of(budget.query, communes) if gap == 0 else None
    if pairs is None:
        pairs = sites._tested_pairs(parcels, gap, budget)
    sites._link(parcels, pairs)
    found = grow_sites(parcels, min_area)
    return [site.parcel_ids for site in sites._ranked(conn, found, 20)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--reuse", action="store_true", help="keep the database of a run")
    parser.add_argument("--db", default=DB)
    parser.add_argument("--only", default=None, help="only the cases whose label holds this")
    parser.add_argument(
        "--no-check", action="store_true", help="without the unbounded walk's comparison"
    )
    parser.add_argument(
        "--adjacency",
        action="store_true",
        help="compute the stored pairs of touching parcels again first (timed)",
    )
    args = parser.parse_args()
    if not args.reuse:
        build(args.db)
    engine = make_engine(get_settings().url_for(args.db))
    if args.adjacency:
        with engine.begin() as conn:
            forget(conn, conn.execute(text("SELECT DISTINCT commune_insee FROM parcel")).scalars())
        report = refresh_adjacency(engine, workers=2)
        parcels = engine.connect().execute(text("SELECT count(*) FROM parcel")).scalar_one()
        print(
            f"stored pairs: {report.pairs:,} for {report.communes} communes, {parcels:,} "
            f"parcels, in {report.seconds:.1f} s (2 connections)"
        )
        # what the pairs add to a commune's refresh after its import
        for stale in (False, True, False, True, False, True):
            if stale:
                with engine.begin() as conn:
                    forget(conn, ["91216"])
            seconds = refresh_scores(engine, commune="91216").seconds
            state = "computed again" if stale else "current"
            print(f"refresh of 91216 (4,241 parcels), its pairs {state}: {seconds:.2f} s")
    with engine.connect() as conn:
        for label, epci, min_area, gap, profile_id in cases(conn):
            if args.only and args.only not in label:
                continue
            profile = get_profile(profile_id)

            def run(budget: float | None, profile=profile, epci=epci, min_area=min_area, gap=gap):
                try:
                    sites = search_sites(
                        conn,
                        profile,
                        Filters(epci=epci),
                        min_area_ha=min_area,
                        gap_m=gap,
                        budget_s=budget,
                    )
                    return [site.parcel_ids for site in sites]
                except Invalid as exc:
                    return str(exc)[:40]
                finally:
                    conn.rollback()

            first = run(BUDGET_S)  # warm-up
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                answer = run(BUDGET_S)
                times.append((time.perf_counter() - started) * 1000)
            q = statistics.quantiles(times, n=20) if len(times) > 1 else times * 19
            outcome = f"{len(first)} sites" if isinstance(first, list) else f"422 {first}"
            same = ""
            if not args.no_check and isinstance(answer, list):
                plain = unbounded(conn, profile, epci, min_area, gap)
                conn.rollback()
                same = ", same as unbounded" if answer == plain else ", DIFFERS from unbounded"
            print(
                f"{label:<66} p50 {statistics.median(times):7.1f} / p95 {q[18]:7.1f} ms"
                f"  ({outcome}{same})",
                flush=True,
            )
    engine.dispose()


if __name__ == "__main__":
    main()
