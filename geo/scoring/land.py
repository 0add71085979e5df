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
# draw the same buildings: adding them would count each twice). A building is the parcel's
# when its point on surface lies on it (geo.land.buildings): one probe of the buildings'
# point index per parcel (OFFSET 0 keeps it so: probing the parcels' index from each
# building cost 1.7 times as much, bench/README.md), aggregated per parcel
# into the refresh's temporary table ``refresh_buildings`` (geo.scoring.refresh.LAYERS).
# The owners of the scope are read once into ``refresh_owners``. ``{q}``: the scope's
# condition on the parcels ``q``.
LAYERS = {
    "buildings": """
        SELECT q.id AS parcel_id, count(*) AS n, sum(b.area_m2) AS m2,
               bool_and(NOT b.hard) AS light_only,
               (array_agg(b.usage ORDER BY b.area_m2 DESC)
                    FILTER (WHERE b.usage IS NOT NULL))[1] AS use
        FROM parcel q
        CROSS JOIN LATERAL (
            SELECT b.area_m2, b.hard, b.usage FROM building b
            WHERE b.geom_point && q.geom AND ST_Intersects(q.geom, b.geom_point)
              AND b.commune_insee = ANY(:building_communes)
              AND b.source = CASE WHEN b.commune_insee = ANY(:cadastre_building_communes)
                                  THEN 'cadastre' ELSE 'bdtopo' END
            OFFSET 0
        ) b
        WHERE q.commune_insee = ANY(:building_communes) AND {q}
        GROUP BY q.id""",
    "owners": """
        SELECT o.parcel_id, o.owner_group, o.siren, o.name FROM parcel_owner o
        WHERE o.commune_insee = ANY(:owner_communes) AND o.commune_insee = ANY(:communes)""",
}

JOINS = """
LEFT JOIN refresh_buildings bld_n ON bld_n.parcel_id = p.id
CROSS JOIN LATERAL (
    SELECT p.commune_insee = ANY(:building_communes) AS covered, coalesce(bld_n.n, 0) AS n,
           bld_n.m2, bld_n.light_only, bld_n.use
) bld
LEFT JOIN refresh_owners po ON po.parcel_id = p.id
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
