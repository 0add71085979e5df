"""Precompute every parcel's criteria and scores in PostGIS, in bulk, so that searches
never score on the fly. Whole base, one département or one commune at a time (after an
import), in one transaction."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from geo.crs import departement_of
from geo.scoring.model import (
    EXCLUDED_SQL,
    MODEL_VERSION,
    POLLUTION_FACTOR,
    REMEDIATION_EUR_PER_HA,
    points_lateral,
    score_expressions,
)
from geo.scoring.profiles import load_profiles

NEAR_M = 2000  # activity zones farther than this all score the same

# One pass over the parcels of the scope; each lateral join reads one layer through its
# GiST index. A layer absent from a département leaves its criterion NULL (unknown).
_FEATURES = f"""
INSERT INTO parcel_features (
    parcel_id, departement_code, commune_insee, area_ha, compactness, zoning_class,
    on_friche, friche_site_id, in_economic_zone, activity_zone_distance_m, pollution,
    slope_mean_pct, flood_high_share, envelope_impact_ha, remediation_cost_eur,
    motorway_distance_m, rail_siding)
SELECT p.id, p.departement_code, p.commune_insee, p.area_m2 / 10000,
       4 * pi() * p.area_m2 / nullif(ST_Perimeter(p.geom) ^ 2, 0),
       zone.zoning_class,
       CASE WHEN p.departement_code = ANY(:friche_deps)
            THEN coalesce(fr.site_id, link.site_id) IS NOT NULL END,
       coalesce(fr.site_id, link.site_id),
       CASE WHEN p.departement_code = ANY(:economic_deps) THEN eco.hit IS NOT NULL END,
       CASE WHEN :activity_layers THEN coalesce(least(eco_near.d, plu_near.d), {NEAR_M}) END,
       CASE WHEN basol.hit
              OR coalesce(fr.pollution, link.pollution)
                 IN ('pollution avérée', 'pollution supposée') THEN 'known'
            WHEN coalesce(fr.pollution, link.pollution) IN (
                 'pollution inexistante', 'pollution traitée', 'pollution peu probable')
            THEN 'ruled_out' END,
       terrain.slope_mean_pct,
       flood.share,
       greatest(p.area_m2 - friche_area.m2 - coalesce(art.overlap_m2, 0), 0) / 10000,
       friche_area.m2 / 10000 * {REMEDIATION_EUR_PER_HA}
         * CASE WHEN basol.hit OR coalesce(fr.pollution, link.pollution)
                     IN ('pollution avérée', 'pollution supposée')
                THEN {POLLUTION_FACTOR} ELSE 1 END,
       NULL, NULL
FROM parcel p
LEFT JOIN LATERAL (
    SELECT z.zoning_class FROM plu_zone z
    WHERE z.geom && p.geom AND ST_Intersects(z.geom, ST_PointOnSurface(p.geom)) LIMIT 1
) zone ON TRUE
LEFT JOIN LATERAL (  -- a friche outline under the parcel
    SELECT f.site_id, f.sol_pollution_existe AS pollution,
           ST_Area(ST_Intersection(f.geom, p.geom)) AS overlap_m2
    FROM friche f
    WHERE f.geom && p.geom AND ST_Intersects(f.geom, ST_PointOnSurface(p.geom)) LIMIT 1
) fr ON TRUE
LEFT JOIN LATERAL (  -- or a friche naming the parcel in its land unit
    SELECT f.site_id, f.sol_pollution_existe AS pollution
    FROM friche_parcel fp JOIN friche f ON f.site_id = fp.site_id
    WHERE fp.parcel_id = p.id LIMIT 1
) link ON TRUE
CROSS JOIN LATERAL (
    SELECT CASE WHEN fr.site_id IS NOT NULL THEN fr.overlap_m2
                WHEN link.site_id IS NOT NULL THEN p.area_m2 ELSE 0 END AS m2
) friche_area
LEFT JOIN LATERAL (
    SELECT 1 AS hit FROM economic_site e
    WHERE e.geom && p.geom AND ST_Intersects(e.geom, ST_PointOnSurface(p.geom)) LIMIT 1
) eco ON TRUE
-- The criterion only tells < 500 m, < 2 km and beyond: a search bounded at 2 km
-- (and "2 km" for anything farther, when an activity layer exists) is enough.
LEFT JOIN LATERAL (
    SELECT min(ST_Distance(e.geom, p.geom)) AS d FROM economic_site e
    WHERE ST_DWithin(e.geom, p.geom, {NEAR_M})
) eco_near ON TRUE
LEFT JOIN LATERAL (
    SELECT min(ST_Distance(z.geom, p.geom)) AS d FROM plu_zone z
    WHERE z.zoning_class = 'activity' AND ST_DWithin(z.geom, p.geom, {NEAR_M})
) plu_near ON TRUE
CROSS JOIN LATERAL (
    SELECT EXISTS (SELECT 1 FROM polluted_site_parcel l WHERE l.parcel_id = p.id)
        OR EXISTS (SELECT 1 FROM polluted_site s
                   WHERE s.geom_point && p.geom AND ST_Intersects(s.geom_point, p.geom)) AS hit
) basol
LEFT JOIN LATERAL (
    SELECT sum(ST_Area(ST_Intersection(a.geom, p.geom))) AS overlap_m2 FROM artificialised_land a
    WHERE a.geom && p.geom AND ST_Intersects(a.geom, p.geom)
) art ON TRUE
LEFT JOIN parcel_terrain terrain ON terrain.parcel_id = p.id
LEFT JOIN LATERAL (
    SELECT sum(h.share) FILTER (WHERE h.hazard_class >= 3) AS share
    FROM parcel_hazard h WHERE h.parcel_id = p.id AND h.hazard = 'flood'
    HAVING count(*) > 0
) flood ON TRUE
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
    working at once, each group in its own transaction (scores are derived data: a
    group either is fully refreshed or keeps its previous scores).
    """
    started = time.perf_counter()
    with engine.connect() as conn:
        groups = _commune_groups(conn, departement, commune, max(workers, 1))
    if len(groups) <= 1:
        parcels, scores = _refresh_group(engine, groups[0] if groups else [])
    else:
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            done = list(pool.map(lambda g: _refresh_group(engine, g), groups))
        parcels, scores = (sum(x) for x in zip(*done, strict=True))
    return RefreshReport(parcels, scores, time.perf_counter() - started)


def _commune_groups(
    conn: Connection, departement: str | None, commune: str | None, workers: int
) -> list[list[tuple[str, str]]]:
    """The (département, commune) pairs in scope, dealt into ``workers`` groups of similar size."""
    rows = conn.execute(
        text(
            """SELECT departement_code, commune_insee, count(*) FROM parcel
               WHERE (CAST(:dep AS text) IS NULL OR departement_code = :dep)
                 AND (CAST(:commune AS text) IS NULL OR commune_insee = :commune)
               GROUP BY 1, 2 ORDER BY 3 DESC"""
        ),
        {
            "dep": departement or (departement_of(commune) if commune else None),
            "commune": commune,
        },
    ).all()
    groups: list[list[tuple[str, str]]] = [[] for _ in range(min(workers, len(rows)) or 1)]
    sizes = [0] * len(groups)
    for dep, code, n in rows:  # largest first, each to the lightest group
        i = sizes.index(min(sizes))
        groups[i].append((dep, code))
        sizes[i] += n
    return groups


def _refresh_group(engine: Engine, communes: list[tuple[str, str]]) -> tuple[int, int]:
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
        for table in ("parcel_score", "parcel_features"):
            conn.execute(text(f"DELETE FROM {table} WHERE {where.format(t=table)}"), params)
        # Where a layer covers a département, its absence under a parcel is a known "no".
        covered = {
            "friche_deps": _covered(conn, "friche"),
            "economic_deps": _covered(conn, "economic_site"),
            "activity_layers": bool(
                conn.exec_driver_sql(
                    "SELECT EXISTS (SELECT 1 FROM economic_site) "
                    "OR EXISTS (SELECT 1 FROM plu_zone WHERE zoning_class = 'activity')"
                ).scalar()
            ),
        }
        parcels = conn.execute(
            text(_FEATURES.format(scope=where.format(t="p"))), {**params, **covered}
        ).rowcount
        scores = _score(conn, where.format(t="f"), params)
    return parcels, scores


def _covered(conn: Connection, table: str) -> list[str]:
    return list(
        conn.execute(
            text(
                f"SELECT DISTINCT departement_code FROM {table} WHERE departement_code IS NOT NULL"
            )
        ).scalars()
    )


def _score(conn: Connection, where: str, params: dict[str, Any]) -> int:
    """Every profile's score in one pass: criteria points once, then one row per profile."""
    profiles = list(load_profiles().values())
    expressions = [(p, *score_expressions(p)) for p in profiles]
    laterals = " ".join(lateral for _, lateral, _, _ in expressions)
    rows = ", ".join(
        f"('{p.id}', {score}, {reliability})" for p, _, score, reliability in expressions
    )
    return conn.execute(
        text(
            f"""INSERT INTO parcel_score (parcel_id, profile, departement_code, commune_insee,
                                          epci_siren, model_version, score, reliability,
                                          excluded, area_ha)
                SELECT f.parcel_id, v.profile, f.departement_code, f.commune_insee,
                       c.epci_siren, :version, v.score, v.reliability, {EXCLUDED_SQL}, f.area_ha
                FROM parcel_features f LEFT JOIN commune c ON c.insee = f.commune_insee
                {points_lateral(profiles)} {laterals}
                CROSS JOIN LATERAL (VALUES {rows}) v(profile, score, reliability)
                WHERE {where}"""
        ),
        {**params, "version": MODEL_VERSION},
    ).rowcount
