"""The refresh's part for what stands on the land (issue 14): per-parcel building
statistics and owner, joined in bulk in PostGIS with the other criteria
(geo.scoring.refresh).

Kept apart from the other layers' joins so that each can grow on its own: the refresh
inserts ``COLUMNS``, selects ``SELECT`` and joins ``JOINS`` over its parcel ``p``, with the
parameters of :func:`coverage`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from geo.land.buildings import MIN_OVERLAP_M2

COLUMNS = (
    "built_m2, built_share, building_count, light_only, building_use, "
    "owner_group, owner_siren, owner_name"
)

# NULL (unknown) where no building layer, or no owner file, covers the parcel's commune.
SELECT = """
       CASE WHEN bld.covered THEN coalesce(bld.m2, 0) END,
       CASE WHEN bld.covered THEN least(coalesce(bld.m2, 0) / nullif(p.area_m2, 0), 1) END,
       CASE WHEN bld.covered THEN bld.n END,
       CASE WHEN bld.covered AND bld.n > 0 THEN coalesce(bld.light_only, FALSE) END,
       bld.use,
       CASE WHEN po.parcel_id IS NOT NULL THEN po.owner_group
            WHEN p.commune_insee = ANY(:owner_communes) THEN 'private_or_unknown' END,
       po.siren,
       po.name"""

# One source per commune: the Etalab cadastre layer where loaded, else BD TOPO (the two
# draw the same buildings: adding them would count each twice). A footprint lying wholly
# on the parcel adds its stored area (no intersection computed); one crossing the boundary
# adds the part on the parcel, and counts as a building of the parcel from MIN_OVERLAP_M2.
JOINS = f"""
LEFT JOIN LATERAL (
    SELECT p.commune_insee = ANY(:building_communes) AS covered,
           count(*) FILTER (WHERE o.inside OR o.m2 >= {MIN_OVERLAP_M2}) AS n,
           sum(o.m2) AS m2,
           bool_and(NOT o.hard) FILTER (WHERE o.inside OR o.m2 >= {MIN_OVERLAP_M2}) AS light_only,
           (array_agg(o.usage ORDER BY o.m2 DESC) FILTER (WHERE o.usage IS NOT NULL))[1] AS use
    FROM (
        SELECT b.hard, b.usage, c.inside,
               CASE WHEN c.inside THEN b.area_m2
                    ELSE ST_Area(ST_Intersection(b.geom, p.geom)) END AS m2
        FROM building b
        CROSS JOIN LATERAL (SELECT ST_CoveredBy(b.geom, p.geom) AS inside) c
        WHERE p.commune_insee = ANY(:building_communes)
          AND b.geom && p.geom AND ST_Intersects(b.geom, p.geom)
          AND b.source = CASE WHEN p.commune_insee = ANY(:cadastre_building_communes)
                              THEN 'cadastre' ELSE 'bdtopo' END
    ) o
) bld ON TRUE
LEFT JOIN parcel_owner po ON po.parcel_id = p.id
"""


def coverage(conn: Connection, communes: list[str]) -> dict[str, Any]:
    """The communes (of ``communes``) each layer covers: there, a parcel without a
    building is known vacant, one absent from the owner file known "private or unknown"."""

    def covered(sql: str) -> list[str]:
        return list(conn.exec_driver_sql(sql, {"c": communes}).scalars())

    return {
        "building_communes": covered(
            "SELECT c FROM unnest(%(c)s::text[]) c "
            "WHERE EXISTS (SELECT 1 FROM building b WHERE b.commune_insee = c)"
        ),
        "cadastre_building_communes": covered(
            "SELECT c FROM unnest(%(c)s::text[]) c WHERE EXISTS "
            "(SELECT 1 FROM building b WHERE b.commune_insee = c AND b.source = 'cadastre')"
        ),
        "owner_communes": covered(
            "SELECT c FROM unnest(%(c)s::text[]) c "
            "WHERE EXISTS (SELECT 1 FROM parcel_owner o WHERE o.commune_insee = c)"
        ),
    }
