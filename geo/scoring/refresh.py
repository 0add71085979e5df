"""Precompute every parcel's criteria and scores in PostGIS, in bulk, so that searches
never score on the fly. Whole base, one département or one commune at a time (after an
import), in one transaction.

This module orchestrates; the statements are in :mod:`geo.scoring.refresh_sql`."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from sqlalchemy import Connection, Engine

from geo.crs import departement_of
from geo.db import tile_generation
from geo.errors import Invalid
from geo.scoring import land
from geo.scoring import refresh_sql as q
from geo.scoring.adjacency import AdjacencyReport, refresh_adjacency
from geo.scoring.model import MODEL_VERSION
from geo.scoring.profiles import load_profiles
from geo.territories import LEVELS


@dataclass
class RefreshReport:
    parcels: int
    scores: int
    seconds: float  # the whole refresh, the touching parcels' pairs included
    adjacency: AdjacencyReport | None = None

    @property
    def scoring_seconds(self) -> float:
        """The features and scores alone: the pairs of touching parcels are computed once
        per commune after its import (geo.scoring.adjacency), not by every refresh."""
        return self.seconds - (self.adjacency.seconds if self.adjacency else 0.0)

    def lines(self) -> list[str]:
        seconds = self.scoring_seconds
        rate = self.parcels / seconds if seconds else 0
        lines = [
            f"  scored {self.parcels} parcels ({self.scores} profile scores, {MODEL_VERSION}) "
            f"in {seconds:.1f} s ({rate:,.0f} parcels/s)"
        ]
        if self.adjacency and self.adjacency.communes:
            lines.append(
                f"  touching parcels of {self.adjacency.communes} communes imported since "
                f"they were last paired: {self.adjacency.pairs} pairs in "
                f"{self.adjacency.seconds:.1f} s"
            )
        return lines


def refresh_scores(
    engine: Engine,
    *,
    departement: str | None = None,
    commune: str | None = None,
    workers: int = 1,
) -> RefreshReport:
    """Recompute the features and every profile's score of the parcels in scope.

    With ``workers`` > 1 the scope's communes are split among that many connections
    working at once. A commune or département refresh replaces its rows, each group in its
    own transaction (scores are derived data: a group either is fully refreshed or keeps
    its previous scores). A full refresh fills new tables without indexes, indexes them
    in one sorted pass each, and swaps them in: readers see the old scores until the swap,
    and a failed refresh leaves them untouched.
    """
    for level, code in (("departement", departement), ("commune", commune)):
        if code is not None and not LEVELS[level].is_code(code):
            raise Invalid(f"{code!r} is not a {level} code")
    started = time.perf_counter()
    with engine.connect() as conn:
        groups = _commune_groups(conn, departement, commune, max(workers, 1))
    if departement is None and commune is None:
        parcels, scores = _rebuild(engine, groups)
    else:
        parcels, scores = _run_groups(engine, groups, full=False)
    # the pairs of touching parcels the site search reads, for the communes whose
    # parcels changed since they were computed (none in a plain re-score)
    adjacency = refresh_adjacency(
        engine, [pair for group in groups for pair in group], workers=workers
    )
    return RefreshReport(parcels, scores, time.perf_counter() - started, adjacency)


_TABLES = ("parcel_features", "parcel_score")
_REBUILD_LOCK = 0x5C0E  # advisory lock key: one full refresh at a time


def _rebuild(engine: Engine, groups: list[list[tuple[str, str]]]) -> tuple[int, int]:
    with engine.connect() as guard:
        if not q.run(guard, q.TRY_LOCK, {"key": _REBUILD_LOCK}).scalar():
            raise RuntimeError("a full score refresh is already running")
        try:
            with engine.begin() as conn:
                for table in _TABLES:
                    q.run(conn, q.drop(q.next_table(table), if_exists=True))
                    q.run(conn, q.create_next(table))
            try:
                done = _run_groups(engine, groups, full=True)
                renames = _index_next_tables(engine, workers=len(groups))
                with engine.begin() as conn:
                    _swap(conn, renames)
                    # in the swap's transaction: no reader sees the new tiles' key
                    # with the old scores
                    tile_generation.bump(conn, [c for group in groups for _, c in group])
            except BaseException:
                with engine.begin() as conn:
                    for table in _TABLES:
                        q.run(conn, q.drop(q.next_table(table), if_exists=True))
                raise
        finally:
            q.run(guard, q.UNLOCK, {"key": _REBUILD_LOCK})
            guard.commit()
    return done


# A catalog index definition (pg_indexes.indexdef): unique or not, its name, its table
# (schema-qualified or not) and the rest (USING ...)
_INDEX_DEF = re.compile(r"^CREATE (UNIQUE )?INDEX (\S+) ON (?:\S+\.)?(\S+) (.*)$", re.S)


def _index_next_tables(engine: Engine, workers: int) -> list[sql.Composed]:
    """Build on each new table the live table's key and indexes (same definitions, read
    from the catalog), several at once, each in one sorted pass. Returns the statements
    that give them the live names once the live tables are gone."""
    builds: list[sql.Composed] = []
    renames: list[sql.Composed] = []
    longest: set[int] = set()
    with engine.connect() as conn:
        for table in _TABLES:
            # the key's index as it is defined (its INCLUDE columns too, migration 0017)
            key = q.run(conn, q.PRIMARY_KEY_OF, {"t": table}).scalar_one()
            renames.append(q.key_from_index(table, key))
            for name, definition in q.run(conn, q.INDEXES_OF, {"t": table}).all():
                found = _INDEX_DEF.match(definition)
                if not found or found[2] != name or found[3] != table:
                    raise RuntimeError(f"unexpected index definition: {definition}")
                if table == "parcel_score":
                    longest.add(len(builds))
                builds.append(q.index_on_next(bool(found[1]), name, table, found[4]))
                if name != key:
                    renames.append(q.rename_index(name))
            builds.append(q.analyse(q.next_table(table)))

    def build(statement: sql.Composed) -> None:
        with engine.begin() as conn:
            q.run(conn, q.SORT_MEMORY)
            q.run(conn, statement)

    # the score table's builds first: they are the longest
    order = sorted(range(len(builds)), key=lambda i: i not in longest)
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        list(pool.map(build, [builds[i] for i in order]))
    return renames


def _swap(conn: Connection, renames: list[sql.Composed]) -> None:
    """The new tables take the live ones' place and names, in one short transaction."""
    for table in _TABLES:
        for statement in q.take_place(table):
            q.run(conn, statement)
    for statement in renames:
        q.run(conn, statement)


def _run_groups(engine: Engine, groups: list[list[tuple[str, str]]], full: bool) -> tuple[int, int]:
    if len(groups) <= 1:
        return _refresh_group(engine, groups[0] if groups else [], full)
    with ThreadPoolExecutor(max_workers=len(groups)) as pool:
        done = list(pool.map(lambda g: _refresh_group(engine, g, full), groups))
    parcels, scores = (sum(x) for x in zip(*done, strict=True))
    return parcels, scores


def _commune_groups(
    conn: Connection, departement: str | None, commune: str | None, workers: int
) -> list[list[tuple[str, str]]]:
    """The (département, commune) pairs in scope, cut into ``workers`` groups of similar
    size, each a run of neighbouring communes (by département, then west to east): the
    layers' joins read the features within a group's box (refresh_sql.LAYERS), so a
    compact group reads fewer of them than communes dealt round-robin."""
    rows = q.run(
        conn,
        q.COMMUNES,
        {
            "dep": departement or (departement_of(commune) if commune else None),
            "commune": commune,
        },
    ).all()
    count = min(workers, len(rows)) or 1
    total = sum(n for *_, n in rows)
    groups: list[list[tuple[str, str]]] = [[] for _ in range(count)]
    done = 0
    for dep, code, n in rows:
        # the group whose share of the parcels this commune's middle falls in
        groups[min(int((done + n / 2) * count / total), count - 1)].append((dep, code))
        done += n
    return [g for g in groups if g]


def _refresh_group(engine: Engine, communes: list[tuple[str, str]], full: bool) -> tuple[int, int]:
    """Features then scores of these communes, into the live tables (replacing their rows)
    or, in a ``full`` refresh, into its new tables."""
    if not communes:
        return 0, 0
    params = {
        "deps": sorted({d for d, _ in communes}),
        "communes": sorted({c for _, c in communes}),
    }
    with engine.begin() as conn:
        # The plan's estimated cost is high enough to trigger JIT compilation, which takes
        # longer than the work itself at the scale of a commune.
        q.run(conn, q.NO_JIT)
        if full:
            target = q.next_table("parcel_features")
        else:
            # The scope's parcels featured until now, whose rows the new ones replace; the
            # new features go to a temporary table first, then only what changed is written.
            q.run(conn, q.PREVIOUS, params)
            q.run(conn, q.NEW_FEATURES)
            target = "refresh_features"
        # Where a layer covers a département, its absence under a parcel is a known "no".
        economic = _covered(conn, params["deps"], "economic_site")
        activity = _covered(conn, params["deps"], "plu_zone", sql.SQL("zoning_class = 'activity'"))
        covered = {
            "friche_deps": _covered(conn, params["deps"], "friche"),
            "economic_deps": economic,
            # the distance is unknown where neither layer covers the département
            "activity_deps": sorted(set(economic) | set(activity)),
        }
        covered |= land.coverage(conn, params["communes"])
        # One statement per département: the layer-side joins then probe one partition of
        # the parcels, and their box is the département's part of the scope.
        parcels = 0
        for dep in params["deps"]:
            scope = {"deps": [dep], "communes": [c for d, c in communes if d == dep]}
            parcels += _features(conn, {**scope, **covered}, target)
        if not full:
            _write_changed(
                conn, "parcel_features", target, q.FEATURE_KEY, q.FEATURES_IN_SCOPE, params
            )
        scores = _score(conn, params, full)
        if not full:
            tile_generation.bump(conn, params["communes"])
    return parcels, scores


def _features(conn: Connection, params: dict[str, Any], target: str) -> int:
    """The features of one département's part of the scope into ``target``: each layer's
    hits into its temporary table, analysed (so that the planner hashes them), then one
    pass over the parcels."""
    box = q.run(conn, q.SCOPE_BOX, params).scalar()
    if box is None:
        return 0
    params = {**params, "box": box}
    q.run(conn, q.ACTIVITY, params)
    q.run(conn, q.ACTIVITY_INDEX)
    q.run(conn, q.analyse(q.layer_table("activity")))
    for name in q.LAYERS:
        q.run(conn, q.create_layer(name), params)
        q.run(conn, q.analyse(q.layer_table(name)))
    parcels = q.run(conn, q.features(target), params).rowcount
    for name in [*q.LAYERS, "activity"]:
        q.run(conn, q.drop(q.layer_table(name)))
    return parcels


def _covered(
    conn: Connection, deps: list[str], table: str, where: sql.Composable = q.TRUE
) -> list[str]:
    """The départements of ``deps`` where ``table`` has a feature."""
    return list(q.run(conn, q.covered(table, where), {"deps": deps}).scalars())


def _score(conn: Connection, params: dict[str, Any], full: bool = False) -> int:
    """Every profile's score in one pass. A full refresh fills its new table; a partial one
    writes what changed (_write_scores)."""
    features = q.next_table("parcel_features") if full else "parcel_features"
    select = q.scores(list(load_profiles().values()), features)
    params = {**params, "version": MODEL_VERSION}
    if not full:
        return _write_scores(conn, select, params)
    columns = (*q.SCORE_KEY, *q.SCORE_VALUES)
    return q.run(conn, q.insert(q.next_table("parcel_score"), columns, select), params).rowcount


def _write_scores(conn: Connection, select: sql.Composable, params: dict[str, Any]) -> int:
    """The new scores into the live table, writing only the rows that changed (the previous
    rows are those of ``refresh_previous``'s parcels, so a parcel gone or a profile no
    longer listed loses its rows)."""
    computed = q.run(conn, q.create_temporary("refresh_score", select), params).rowcount
    _write_changed(conn, "parcel_score", "refresh_score", q.SCORE_KEY, q.PREVIOUS_SCORES, {})
    return computed


def _write_changed(
    conn: Connection,
    table: str,
    fresh: str,
    key: tuple[str, ...],
    previous: sql.Composable,
    params: dict[str, Any],
) -> None:
    """Make ``table``'s rows of a scope, those ``previous`` selects, the rows of the
    temporary table ``fresh``, deleting and inserting only the rows that differ.

    Rewriting every row of a commune cost more than computing it: a score row is four
    index entries and a feature row two, in tables of millions of rows, and after a
    re-import or an overlay change most rows are the same (bench/README.md). One hash
    join of the previous and the new rows finds the differences; a row whose values are
    unchanged keeps its ``computed_at``."""
    columns = list(q.run(conn, q.COLUMNS_OF, {"t": fresh}).scalars())
    q.run(conn, q.changed(fresh, key, columns, previous), params)
    q.run(conn, q.analyse("refresh_changed"))
    q.run(conn, q.delete_changed(table, key))
    q.run(conn, q.insert_changed(table, key, columns))
    q.run(conn, q.drop("refresh_changed"))
