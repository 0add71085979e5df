"""The refresh's part for what stands on the land: per-parcel building
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

# Buildings: the statistics computed at import (geo.land.buildings.count_parcel_buildings);
# owners: those of the scope. Each is read once, through its commune index, into the
# refresh's temporary tables ``refresh_buildings`` and ``refresh_owners``
# (geo.scoring.refresh_sql.LAYERS): joined directly, the planner hashed the scope's parcels
# and read the whole statistics table for them (66 ms of a commune's refresh at 1 M
# parcels, ten times that at 10 M). ``{q}``: the scope's condition on the parcels ``q``.
LAYERS = {
    "buildings": """
        SELECT b.parcel_id, b.building_count, b.built_m2, b.light_only, b.building_use
        FROM parcel_building b
        WHERE b.departement_code = ANY(:deps) AND b.commune_insee = ANY(:communes)""",
    "owners": """
        SELECT o.parcel_id, o.owner_group, o.siren, o.name FROM parcel_owner o
        WHERE o.commune_insee = ANY(:owner_communes) AND o.commune_insee = ANY(:communes)""",
}

JOINS = """
LEFT JOIN refresh_buildings bld_n ON bld_n.parcel_id = p.id
CROSS JOIN LATERAL (
    SELECT p.commune_insee = ANY(:building_communes) AS covered,
           coalesce(bld_n.building_count, 0) AS n, bld_n.built_m2 AS m2,
           bld_n.light_only, bld_n.building_use AS use
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
        "owner_communes": covered(
            "SELECT c FROM unnest(%(c)s::text[]) c "
            "WHERE EXISTS (SELECT 1 FROM parcel_owner o WHERE o.commune_insee = c)"
        ),
    }
