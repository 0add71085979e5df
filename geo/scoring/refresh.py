"""Precompute every parcel's criteria and scores in PostGIS, in bulk, so that searches
never score on the fly. Whole base, one département or one commune at a time (after an
import), in one transaction."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from geo.crs import LAMBERT93, departement_of
from geo.db import tile_generation
from geo.errors import Invalid
from geo.scoring import land
from geo.scoring.adjacency import refresh_adjacency
from geo.scoring.model import (
    EXCLUDED_SQL,
    MODEL_VERSION,
    REMEDIATION_CLEAN_EUR_PER_HA,
    REMEDIATION_POLLUTED_EUR_PER_HA,
    points_lateral,
    score_expressions,
)
from geo.scoring.profiles import load_profiles
from geo.territories import LEVELS

NEAR_M = 2000  # activity zones farther than this all score the same
# A risk zone or prescription over less than this share of a parcel is digitisation noise
# along its edge, not a constraint on it (docs/methode.md).
MIN_SHARE = 0.01

# Each layer is read from its own side: the features whose box meets the scope's box
# (``:box``) each probe the parcels' GiST index once, and the hits are aggregated per parcel
# into a temporary table (``LAYERS``), analysed, then hash-joined in one pass over the
# parcels. A friche is one probe instead of one per parcel around it (bench/README.md).
# Only the distance to the nearest activity zone is searched per parcel (KNN).
# In a layer's SQL, ``{q}`` is the scope's condition on a parcel alias ``q`` (one
# département at a time, so that a probe reads one partition) and ``{parcels_under:g}``
# the scope département's parcels whose box meets the feature's geometry ``g``
# (:class:`_ParcelsUnder`). A layer absent from a département leaves its criterion NULL
# (unknown).


class _ParcelsUnder:
    """``{parcels_under:e.geom}``: a LATERAL of the parcels ``q`` (id, geom, commune) whose box
    meets ``e.geom``, read through the parcels' GiST index alone. The fence (OFFSET 0) keeps
    the planner from ANDing that index with the commune index, which read every parcel of
    the scope once per feature (1.1 s for 594 economic sites over 10 communes); the layer's
    query filters the communes itself."""

    def __format__(self, feature: str) -> str:
        return (
            "CROSS JOIN LATERAL (SELECT q.id, q.geom, q.commune_insee FROM parcel q "
            f"WHERE q.departement_code = ANY(:deps) AND q.geom && {feature} OFFSET 0) q"
        )


LAYERS: dict[str, str] = {
    # The PLU zone under the parcel's point on surface (the lowest id where zones overlap).
    # From the zones' side too, though zones cover the land: each zone's geometry then
    # stays the same over consecutive point tests, which PostGIS prepares once
    # (1.3 s instead of 2.3 s for 169,640 parcels, bench/README.md).
    "zone": """
        SELECT DISTINCT ON (q.id) q.id AS parcel_id, z.zoning_class, z.idurba
        FROM plu_zone z
        {parcels_under:z.geom}
        WHERE z.geom && CAST(:box AS geometry) AND q.commune_insee = ANY(:communes)
          AND ST_Intersects(z.geom, ST_PointOnSurface(q.geom))
        ORDER BY q.id, z.gpu_id""",
    # The friche under the parcel's point on surface (the lowest site id where outlines
    # overlap), and the union of every friche outline over the parcel, as the ledger reads
    # them.
    "friche": """
        SELECT h.parcel_id, h.site_id, h.pollution,
               ST_Area(ST_Intersection(f.geom, q.geom)) AS overlap_m2,
               (SELECT ST_Union(ST_Intersection(o.geom, q.geom)) FROM friche o
                WHERE o.site_id = ANY(h.sites)) AS g
        FROM (
            SELECT q.id AS parcel_id, min(fl.site_id) FILTER (WHERE u.under) AS site_id,
                   (array_agg(fl.sol_pollution_existe ORDER BY fl.site_id)
                        FILTER (WHERE u.under))[1] AS pollution,
                   array_agg(fl.site_id) AS sites
            FROM friche fl
            {parcels_under:fl.geom}
            CROSS JOIN LATERAL (
                SELECT ST_Intersects(fl.geom, ST_PointOnSurface(q.geom)) AS under
            ) u
            WHERE fl.geom && CAST(:box AS geometry) AND q.commune_insee = ANY(:communes)
              AND ST_Intersects(fl.geom, q.geom)
            GROUP BY q.id
            -- outlines over the parcel matter only when one lies under its point on surface
            HAVING bool_or(u.under)
        ) h
        JOIN parcel q ON q.departement_code = ANY(:deps) AND q.id = h.parcel_id
        JOIN friche f ON f.site_id = h.site_id""",
    # or a friche naming the parcel in its land unit
    "friche_link": """
        SELECT DISTINCT ON (fp.parcel_id) fp.parcel_id, f.site_id,
               f.sol_pollution_existe AS pollution
        FROM friche_parcel fp JOIN friche f ON f.site_id = fp.site_id
        JOIN parcel q ON q.id = fp.parcel_id
        WHERE {q}
        ORDER BY fp.parcel_id, f.site_id""",
    # an economic site under the parcel's point on surface
    "economic": """
        SELECT DISTINCT q.id AS parcel_id FROM economic_site e
        {parcels_under:e.geom}
        WHERE e.geom && CAST(:box AS geometry) AND q.commune_insee = ANY(:communes)
          AND ST_Intersects(e.geom, ST_PointOnSurface(q.geom))""",
    # a polluted site on the parcel, listed by it or by its point
    "polluted": """
        SELECT l.parcel_id FROM polluted_site_parcel l JOIN parcel q ON q.id = l.parcel_id
        WHERE {q}
        UNION
        SELECT q.id FROM polluted_site s
        {parcels_under:s.geom_point}
        WHERE s.geom_point && CAST(:box AS geometry) AND q.commune_insee = ANY(:communes)
          AND ST_Intersects(q.geom, s.geom_point)""",
    "artificialised": """
        SELECT q.id AS parcel_id, ST_Union(ST_Intersection(a.geom, q.geom)) AS g
        FROM artificialised_land a
        {parcels_under:a.geom}
        WHERE a.geom && CAST(:box AS geometry) AND q.commune_insee = ANY(:communes)
          AND ST_Intersects(a.geom, q.geom)
        GROUP BY q.id""",
    # the raster statistics of the scope's parcels: one key probe each, never a read of
    # the whole table
    "terrain": """
        SELECT t.parcel_id, t.slope_mean_pct
        FROM parcel q
        JOIN parcel_terrain t ON t.parcel_id = q.id AND t.departement_code = q.departement_code
        WHERE {q}""",
    "flood": """
        SELECT h.parcel_id, sum(h.share) FILTER (WHERE h.hazard_class >= 3) AS share
        FROM parcel_hazard h
        JOIN parcel q ON q.id = h.parcel_id AND q.departement_code = h.departement_code
        WHERE h.hazard = 'flood' AND {q}
        GROUP BY h.parcel_id""",
    # regulatory risk plans (geo.land.risks), and the zones over the parcel named (plan,
    # document, class, hazard)
    "risk": """
        SELECT q.id AS parcel_id,
               coalesce(ST_Area(ST_Union(ST_Intersection(z.geom, q.geom))
                        FILTER (WHERE z.regulatory_class = 'interdiction')), 0)
                   AS interdiction_m2,
               coalesce(ST_Area(ST_Union(ST_Intersection(z.geom, q.geom))
                        FILTER (WHERE z.regulatory_class = 'prescription')), 0)
                   AS prescription_m2,
               jsonb_agg(DISTINCT jsonb_build_object(
                   'document', z.document, 'plan', z.plan, 'class', z.regulatory_class,
                   'hazard', z.hazard_family, 'code', z.code, 'label', z.label,
                   'approved_on', z.approved_on))
                   FILTER (WHERE z.layer = 'zone_reg') AS zones
        FROM risk_zone z
        {parcels_under:z.geom}
        WHERE z.layer IN ('zone_reg', 'perimetre') AND z.geom && CAST(:box AS geometry)
          AND q.commune_insee = ANY(:communes) AND ST_Intersects(z.geom, q.geom)
        GROUP BY q.id""",
    # PLU prescriptions (geo.land.prescriptions)
    "prescription": """
        SELECT q.id AS parcel_id,
               ST_Area(ST_Union(ST_Intersection(r.geom, q.geom))
                       FILTER (WHERE r.effect = 'exclude' AND r.kind = 'surf')) AS exclude_m2,
               ST_Area(ST_Union(ST_Intersection(r.geom, q.geom))
                       FILTER (WHERE r.effect = 'penalise' AND r.kind = 'surf'))
                   AS penalise_m2,
               coalesce(bool_or(r.effect = 'exclude' AND r.kind <> 'surf'), FALSE)
                   AS exclude_other,
               coalesce(bool_or(r.effect = 'penalise' AND r.kind <> 'surf'), FALSE)
                   AS penalise_other,
               jsonb_agg(DISTINCT jsonb_build_object(
                   'typepsc', r.typepsc, 'stypepsc', r.stypepsc, 'label', r.libelle,
                   'effect', r.effect, 'geometry', r.kind, 'document', r.idurba)) AS list
        FROM plu_prescription r
        {parcels_under:r.geom}
        WHERE r.geom && CAST(:box AS geometry) AND q.commune_insee = ANY(:communes)
          AND ST_Intersects(r.geom, q.geom)
        GROUP BY q.id""",
} | land.LAYERS

_ACTIVITY = f"""
CREATE TEMPORARY TABLE refresh_activity ON COMMIT DROP AS
SELECT geom FROM economic_site WHERE geom && ST_Expand(CAST(:box AS geometry), {NEAR_M})
UNION ALL
SELECT geom FROM plu_zone
WHERE zoning_class = 'activity' AND geom && ST_Expand(CAST(:box AS geometry), {NEAR_M})
"""

_FEATURES = f"""
INSERT INTO {{features_table}} (
    parcel_id, departement_code, commune_insee, area_ha, compactness, zoning_class,
    on_friche, friche_site_id, in_economic_zone, activity_zone_distance_m, pollution,
    slope_mean_pct, flood_high_share, envelope_impact_ha, remediation_cost_eur,
    motorway_distance_m, rail_siding,
    risk_interdiction_share, risk_prescription_share, risk_regulation, risk_zones,
    prescription_exclude_share, prescription_penalise_share, prescription_effect,
    prescriptions, {land.COLUMNS})
SELECT p.id, p.departement_code, p.commune_insee, p.area_m2 / 10000,
       4 * pi() * p.area_m2 / nullif(ST_Perimeter(p.geom) ^ 2, 0),
       zone.zoning_class,
       CASE WHEN p.departement_code = ANY(:friche_deps)
            THEN coalesce(fr.site_id, link.site_id) IS NOT NULL END,
       coalesce(fr.site_id, link.site_id),
       CASE WHEN p.departement_code = ANY(:economic_deps) THEN eco.parcel_id IS NOT NULL END,
       CASE WHEN p.departement_code = ANY(:activity_deps)
            THEN CASE WHEN zone.zoning_class = 'activity' OR eco.parcel_id IS NOT NULL THEN 0
                      ELSE least(near.d, {NEAR_M}) END END,
       CASE WHEN basol.parcel_id IS NOT NULL
              OR coalesce(fr.pollution, link.pollution)
                 IN ('pollution avérée', 'pollution supposée') THEN 'known'
            WHEN coalesce(fr.pollution, link.pollution) IN (
                 'pollution inexistante', 'pollution traitée', 'pollution peu probable')
            THEN 'ruled_out' END,
       terrain.slope_mean_pct,
       flood.share,
       -- the ledger's definition (geo.ledger.envelope): the parcel less the union of its parts on
       -- friches and on artificialised land, so an overlap of the two counts once
       CASE WHEN link.site_id IS NOT NULL AND fr.site_id IS NULL THEN 0
            WHEN fr.site_id IS NULL AND art.g IS NULL THEN p.area_m2
            ELSE ST_Area(ST_Difference(p.geom, ST_Union(
                     coalesce(CASE WHEN fr.site_id IS NOT NULL THEN fr.g END,
                              'SRID=2154;POLYGON EMPTY'::geometry),
                     coalesce(art.g, 'SRID=2154;POLYGON EMPTY'::geometry))))
       END / 10000,
       CASE WHEN fr.site_id IS NOT NULL THEN fr.overlap_m2
            WHEN link.site_id IS NOT NULL THEN p.area_m2 ELSE 0 END / 10000
         * CASE WHEN basol.parcel_id IS NOT NULL OR coalesce(fr.pollution, link.pollution)
                     IN ('pollution avérée', 'pollution supposée')
                THEN {REMEDIATION_POLLUTED_EUR_PER_HA}
                WHEN coalesce(fr.pollution, link.pollution) IN (
                     'pollution inexistante', 'pollution traitée', 'pollution peu probable')
                THEN {REMEDIATION_CLEAN_EUR_PER_HA}
                -- pollution unknown: the cost is unknown (NULL), never a guessed 0 €
                ELSE NULL END,
       NULL, NULL,
       -- risk plans: known inside a loaded plan's perimeter
       risk.interdiction_m2 / nullif(p.area_m2, 0),
       risk.prescription_m2 / nullif(p.area_m2, 0),
       CASE WHEN risk.interdiction_m2 >= {MIN_SHARE} * p.area_m2 THEN 'interdiction'
            WHEN risk.prescription_m2 >= {MIN_SHARE} * p.area_m2 THEN 'prescription'
            WHEN risk.parcel_id IS NOT NULL THEN 'none' END,
       risk.zones,
       -- prescriptions: known where the zone under the parcel comes from a CNIG delivery
       -- (its document is in plu_document)
       CASE WHEN doc.idurba IS NOT NULL
            THEN coalesce(psc.exclude_m2, 0) / nullif(p.area_m2, 0) END,
       CASE WHEN doc.idurba IS NOT NULL
            THEN coalesce(psc.penalise_m2, 0) / nullif(p.area_m2, 0) END,
       CASE WHEN doc.idurba IS NULL THEN NULL
            WHEN psc.exclude_m2 >= {MIN_SHARE} * p.area_m2 OR psc.exclude_other THEN 'exclude'
            WHEN psc.penalise_m2 >= {MIN_SHARE} * p.area_m2 OR psc.penalise_other
            THEN 'penalise'
            ELSE 'none' END,
       CASE WHEN doc.idurba IS NOT NULL THEN psc.list END,{land.SELECT}
FROM parcel p
LEFT JOIN refresh_zone zone ON zone.parcel_id = p.id
LEFT JOIN plu_document doc ON doc.idurba = zone.idurba
LEFT JOIN refresh_terrain terrain ON terrain.parcel_id = p.id
LEFT JOIN refresh_friche fr ON fr.parcel_id = p.id
LEFT JOIN refresh_friche_link link ON link.parcel_id = p.id
LEFT JOIN refresh_economic eco ON eco.parcel_id = p.id
LEFT JOIN refresh_polluted basol ON basol.parcel_id = p.id
LEFT JOIN refresh_artificialised art ON art.parcel_id = p.id
LEFT JOIN refresh_flood flood ON flood.parcel_id = p.id
LEFT JOIN refresh_risk risk ON risk.parcel_id = p.id
LEFT JOIN refresh_prescription psc ON psc.parcel_id = p.id
-- The criterion only tells < 500 m, < 2 km and beyond: the nearest activity zone by an
-- index KNN search (for geometries <-> is the exact distance, rechecked on the boxes'
-- order), and "2 km" for anything farther when an activity layer exists. No box filter
-- beside it: with one, the planner sorted every zone within reach of each parcel, twice
-- the time (bench/README.md). Not searched for a parcel whose point on surface lies in an
-- activity zone or an economic site: its distance is 0.
LEFT JOIN LATERAL (
    SELECT a.geom <-> p.geom AS d FROM refresh_activity a
    WHERE zone.zoning_class IS DISTINCT FROM 'activity' AND eco.parcel_id IS NULL
    ORDER BY a.geom <-> p.geom LIMIT 1
) near ON TRUE
{land.JOINS}
WHERE {{scope}}
"""


@dataclass
class RefreshReport:
    parcels: int
    scores: int
    seconds: float

    def lines(self) -> list[str]:
        rate = self.parcels / self.seconds if self.seconds else 0
        return [
            f"  scored {self.parcels} parcels ({self.scores} profile scores, {MODEL_VERSION}) "
            f"in {self.seconds:.1f} s ({rate:,.0f} parcels/s)"
        ]


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
        parcels, scores = _run_groups(engine, groups, suffix="")
    # the pairs of touching parcels the site search reads, for the communes whose
    # parcels changed since they were computed (none in a plain re-score)
    refresh_adjacency(engine, [pair for group in groups for pair in group], workers=workers)
    return RefreshReport(parcels, scores, time.perf_counter() - started)


_TABLES = ("parcel_features", "parcel_score")
_REBUILD_LOCK = 0x5C0E  # advisory lock key: one full refresh at a time


def _rebuild(engine: Engine, groups: list[list[tuple[str, str]]]) -> tuple[int, int]:
    with engine.connect() as guard:
        if not guard.exec_driver_sql(f"SELECT pg_try_advisory_lock({_REBUILD_LOCK})").scalar():
            raise RuntimeError("a full score refresh is already running")
        try:
            with engine.begin() as conn:
                for table in _TABLES:
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}_next")
                    # No autovacuum on the new tables while they are filled and indexed: at
                    # 10 M parcels it vacuumed the fresh features for a minute, on a core
                    # the index builds needed; they are analysed once, after their indexes.
                    conn.exec_driver_sql(
                        f"CREATE TABLE {table}_next (LIKE {table} INCLUDING DEFAULTS) "
                        "WITH (autovacuum_enabled = false)"
                    )
            try:
                done = _run_groups(engine, groups, suffix="_next")
                renames = _index_next_tables(engine, workers=len(groups))
                with engine.begin() as conn:
                    _swap(conn, renames)
                    # in the swap's transaction: no reader sees the new tiles' key
                    # with the old scores
                    tile_generation.bump(conn, [c for group in groups for _, c in group])
            except BaseException:
                with engine.begin() as conn:
                    for table in _TABLES:
                        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}_next")
                raise
        finally:
            guard.exec_driver_sql(f"SELECT pg_advisory_unlock({_REBUILD_LOCK})")
            guard.commit()
    return done


def _index_next_tables(engine: Engine, workers: int) -> list[str]:
    """Build on each new table the live table's key and indexes (same definitions, read
    from the catalog), several at once, each in one sorted pass. Returns the statements
    that give them the live names once the live tables are gone."""
    builds: list[str] = []
    renames: list[str] = []
    with engine.connect() as conn:
        for table in _TABLES:
            # the key's index as it is defined (its INCLUDE columns too, migration 0017)
            key = conn.execute(
                text(
                    "SELECT conname FROM pg_constraint "
                    "WHERE conrelid = CAST(:t AS regclass) AND contype = 'p'"
                ),
                {"t": table},
            ).scalar_one()
            # USING INDEX renames the index after the constraint
            renames.append(
                f"ALTER TABLE {table} ADD CONSTRAINT {key} PRIMARY KEY USING INDEX {key}_next"
            )
            indexes = conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = "
                    "current_schema() AND tablename = :t"
                ),
                {"t": table},
            ).all()
            for name, definition in indexes:
                ddl, found = re.subn(
                    rf"^CREATE (UNIQUE )?INDEX {name} ON (\S+\.)?{table} ",
                    # \1: "UNIQUE " or, unmatched, nothing
                    rf"CREATE \1INDEX {name}_next ON {table}_next ",
                    definition,
                )
                if not found:
                    raise RuntimeError(f"unexpected index definition: {definition}")
                builds.append(ddl)
                if name != key:
                    renames.append(f"ALTER INDEX {name}_next RENAME TO {name}")
            builds.append(f"ANALYZE {table}_next")

    def run(statement: str) -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
            conn.exec_driver_sql(statement)

    # the score table's builds first: they are the longest
    builds.sort(key=lambda ddl: "parcel_score_next" not in ddl)
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        list(pool.map(run, builds))
    return renames


def _swap(conn: Connection, renames: list[str]) -> None:
    """The new tables take the live ones' place and names, in one short transaction."""
    for table in _TABLES:
        conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql(f"ALTER TABLE {table}_next RENAME TO {table}")
        conn.exec_driver_sql(f"ALTER TABLE {table} RESET (autovacuum_enabled)")
    for statement in renames:
        conn.exec_driver_sql(statement)


def _run_groups(
    engine: Engine, groups: list[list[tuple[str, str]]], suffix: str
) -> tuple[int, int]:
    if len(groups) <= 1:
        return _refresh_group(engine, groups[0] if groups else [], suffix)
    with ThreadPoolExecutor(max_workers=len(groups)) as pool:
        done = list(pool.map(lambda g: _refresh_group(engine, g, suffix), groups))
    parcels, scores = (sum(x) for x in zip(*done, strict=True))
    return parcels, scores


def _commune_groups(
    conn: Connection, departement: str | None, commune: str | None, workers: int
) -> list[list[tuple[str, str]]]:
    """The (département, commune) pairs in scope, cut into ``workers`` groups of similar
    size, each a run of neighbouring communes (by département, then west to east): the
    layers' joins read the features within a group's box (geo.scoring.refresh.LAYERS), so
    a compact group reads fewer of them than communes dealt round-robin."""
    rows = conn.execute(
        text(
            """SELECT departement_code, commune_insee, count(*) FROM parcel
               WHERE (CAST(:dep AS text) IS NULL OR departement_code = :dep)
                 AND (CAST(:commune AS text) IS NULL OR commune_insee = :commune)
               GROUP BY 1, 2
               ORDER BY 1, ST_XMin(ST_Extent(geom)) + ST_XMax(ST_Extent(geom))"""
        ),
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


def _refresh_group(engine: Engine, communes: list[tuple[str, str]], suffix: str) -> tuple[int, int]:
    """Features then scores of these communes, into the live tables (replacing their rows)
    or, with a suffix, into the new tables of a full refresh."""
    if not communes:
        return 0, 0
    params = {
        "deps": sorted({d for d, _ in communes}),
        "communes": sorted({c for _, c in communes}),
    }
    where = "{t}.departement_code = ANY(:deps) AND {t}.commune_insee = ANY(:communes)"
    with engine.begin() as conn:
        # The plan's estimated cost is high enough to trigger JIT compilation, which takes
        # longer than the work itself at the scale of a commune.
        conn.exec_driver_sql("SET LOCAL jit = off")
        if suffix:
            target = f"parcel_features{suffix}"
        else:
            # The scope's parcels featured until now, whose rows the new ones replace; the
            # new features go to a temporary table first, then only what changed is written.
            conn.execute(
                text(
                    "CREATE TEMPORARY TABLE refresh_previous ON COMMIT DROP AS "
                    "SELECT f.parcel_id, f.departement_code FROM parcel_features f "
                    f"WHERE {where.format(t='f')}"
                ),
                params,
            )
            target = "refresh_features"
            conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE {target} (LIKE parcel_features INCLUDING DEFAULTS) "
                "ON COMMIT DROP"
            )
        # Where a layer covers a département, its absence under a parcel is a known "no".
        covered = {
            "friche_deps": _covered(conn, params["deps"], "friche"),
            "economic_deps": _covered(conn, params["deps"], "economic_site"),
            # the distance is unknown where neither layer covers the département
            "activity_deps": sorted(
                set(_covered(conn, params["deps"], "economic_site"))
                | set(_covered(conn, params["deps"], "plu_zone", "zoning_class = 'activity'"))
            ),
        }
        covered |= land.coverage(conn, params["communes"])
        # One statement per département: the layer-side joins then probe one partition of
        # the parcels, and their box is the département's part of the scope.
        parcels = 0
        for dep in params["deps"]:
            scope = {"deps": [dep], "communes": [c for d, c in communes if d == dep]}
            parcels += _features(conn, where, {**scope, **covered}, target)
        if not suffix:
            _write_changed(
                conn,
                "parcel_features",
                target,
                _FEATURE_KEY,
                f"SELECT * FROM parcel_features f WHERE {where.format(t='f')}",
                params,
            )
        scores = _score(conn, where.format(t="f"), params, suffix)
        if not suffix:
            tile_generation.bump(conn, params["communes"])
    return parcels, scores


def _features(conn: Connection, where: str, params: dict[str, Any], target: str) -> int:
    """The features of one département's part of the scope into ``target``: each layer's
    hits into its temporary table, analysed (so that the planner hashes them), then one
    pass over the parcels."""
    box = conn.execute(
        text(
            f"SELECT ST_AsEWKB(ST_SetSRID(ST_Extent(p.geom), {LAMBERT93})) "
            f"FROM parcel p WHERE {where.format(t='p')}"
        ),
        params,
    ).scalar()
    if box is None:
        return 0
    params = {**params, "box": box}
    # The activity zones within reach of the scope, economic sites and PLU activity zones
    # together, in one small fresh index: one KNN search per parcel instead of two, each
    # in a smaller tree (21 µs a parcel less, bench/README.md).
    conn.execute(text(_ACTIVITY), params)
    conn.exec_driver_sql("CREATE INDEX ON refresh_activity USING gist (geom)")
    conn.exec_driver_sql("ANALYZE refresh_activity")
    for name, select in LAYERS.items():
        conn.execute(
            text(
                f"CREATE TEMPORARY TABLE refresh_{name} ON COMMIT DROP AS {select}".format(
                    q=where.format(t="q"), parcels_under=_ParcelsUnder()
                )
            ),
            params,
        )
        conn.exec_driver_sql(f"ANALYZE refresh_{name}")
    features = _FEATURES.format(scope=where.format(t="p"), features_table=target)
    parcels = conn.execute(text(features), params).rowcount
    for name in [*LAYERS, "activity"]:
        conn.exec_driver_sql(f"DROP TABLE refresh_{name}")
    return parcels


def _covered(conn: Connection, deps: list[str], table: str, where: str = "TRUE") -> list[str]:
    """The départements of ``deps`` where ``table`` has a feature: one probe of its
    département index each, whatever the size of the layer nationwide."""
    return list(
        conn.execute(
            text(
                f"SELECT d FROM unnest(CAST(:deps AS text[])) AS d WHERE EXISTS "
                f"(SELECT 1 FROM {table} t WHERE t.departement_code = d AND {where})"
            ),
            {"deps": deps},
        ).scalars()
    )


_SCORE_KEY = ("parcel_id", "profile", "departement_code")
_SCORE_VALUES = (
    "commune_insee",
    "epci_siren",
    "model_version",
    "score",
    "reliability",
    "excluded",
    "area_ha",
)


def _score(conn: Connection, where: str, params: dict[str, Any], suffix: str = "") -> int:
    """Every profile's score in one pass: criteria points once, then one row per profile.
    A full refresh fills its new table; a partial one writes what changed (_write_scores)."""
    profiles = list(load_profiles().values())
    expressions = [(p, *score_expressions(p)) for p in profiles]
    laterals = " ".join(lateral for _, lateral, _, _ in expressions)
    rows = ", ".join(
        f"('{p.id}', {score}, {reliability})" for p, _, score, reliability in expressions
    )
    select = f"""SELECT f.parcel_id, v.profile, f.departement_code, f.commune_insee,
                        c.epci_siren, CAST(:version AS text) AS model_version, v.score,
                        v.reliability, {EXCLUDED_SQL} AS excluded, f.area_ha
                 FROM parcel_features{suffix} f LEFT JOIN commune c ON c.insee = f.commune_insee
                 {points_lateral(profiles)} {laterals}
                 CROSS JOIN LATERAL (VALUES {rows}) v(profile, score, reliability)
                 WHERE {where}"""
    params = {**params, "version": MODEL_VERSION}
    if not suffix:
        return _write_scores(conn, select, params)
    columns = ", ".join((*_SCORE_KEY, *_SCORE_VALUES))
    return conn.execute(
        text(f"INSERT INTO parcel_score{suffix} ({columns}) {select}"), params
    ).rowcount


def _write_scores(conn: Connection, select: str, params: dict[str, Any]) -> int:
    """The new scores into the live table, writing only the rows that changed (the previous
    rows are those of ``refresh_previous``'s parcels, so a parcel gone or a profile no
    longer listed loses its rows)."""
    computed = conn.execute(
        text(f"CREATE TEMPORARY TABLE refresh_score ON COMMIT DROP AS {select}"), params
    ).rowcount
    _write_changed(
        conn,
        "parcel_score",
        "refresh_score",
        _SCORE_KEY,
        "SELECT s.* FROM refresh_previous g JOIN parcel_score s "
        "ON s.parcel_id = g.parcel_id AND s.departement_code = g.departement_code",
        {},
    )
    return computed


_FEATURE_KEY = ("parcel_id", "departement_code")


def _write_changed(
    conn: Connection,
    table: str,
    fresh: str,
    key: tuple[str, ...],
    previous: str,
    params: dict[str, Any],
) -> None:
    """Make ``table``'s rows of a scope, those ``previous`` selects, the rows of the
    temporary table ``fresh``, deleting and inserting only the rows that differ.

    Rewriting every row of a commune cost more than computing it: a score row is four
    index entries and a feature row two, in tables of millions of rows, and after a
    re-import or an overlay change most rows are the same (bench/README.md). One hash
    join of the previous and the new rows finds the differences; a row whose values are
    unchanged keeps its ``computed_at``."""
    columns = [
        c
        for c in conn.execute(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
                "AND attnum > 0 AND NOT attisdropped AND attname <> 'computed_at' "
                "ORDER BY attnum"
            ),
            {"t": fresh},
        ).scalars()
    ]
    on = " AND ".join(f"o.{c} = n.{c}" for c in key)
    conn.execute(
        text(
            "CREATE TEMPORARY TABLE refresh_changed ON COMMIT DROP AS SELECT "
            + ", ".join(f"o.{c} AS previous_{c}" for c in key)
            + f", n.* FROM ({previous}) o FULL JOIN {fresh} n ON {on} WHERE "
            # the keys are compared too, so that a row on one side only always differs
            + f"({', '.join(f'o.{c}' for c in columns)}) IS DISTINCT FROM "
            + f"({', '.join(f'n.{c}' for c in columns)})"
        ),
        params,
    )
    conn.exec_driver_sql("ANALYZE refresh_changed")
    conn.exec_driver_sql(
        f"DELETE FROM {table} t USING refresh_changed c WHERE "
        + " AND ".join(f"t.{k} = c.previous_{k}" for k in key)
    )
    listed = ", ".join(columns)
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({listed}) SELECT {listed} FROM refresh_changed "
        f"WHERE {key[0]} IS NOT NULL"
    )
    conn.exec_driver_sql("DROP TABLE refresh_changed")
