"""Per-parcel building statistics, computed at import (the score refresh joins them);
département indexes on the layers whose coverage the refresh checks; the département in
the keys of the per-parcel tables (the shard key, docs/scale.md)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24

Written from geo/db/schema.py (table ``parcel_building``). The statistics of the buildings
already loaded are computed here, with the rule of geo.land.buildings at this revision
(written out: a migration must not change when the code does).
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


_KEYS = {
    "parcel_features": ["parcel_id"],
    "parcel_score": ["parcel_id", "profile"],
    "parcel_owner": ["parcel_id"],
}


def upgrade() -> None:
    op.create_table(
        "parcel_building",
        sa.Column("parcel_id", sa.String(14), nullable=False),
        sa.Column("departement_code", sa.String(3), nullable=False),
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.Column("building_count", sa.Integer(), nullable=False),
        sa.Column("built_m2", sa.Float(), nullable=False),
        sa.Column("light_only", sa.Boolean(), nullable=False),
        sa.Column("building_use", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("parcel_id", "departement_code"),
    )
    op.create_index("parcel_building_commune_idx", "parcel_building", ["commune_insee"])
    op.create_index("friche_departement_idx", "friche", ["departement_code"])
    op.create_index("economic_site_departement_idx", "economic_site", ["departement_code"])
    op.create_index("plu_zone_departement_idx", "plu_zone", ["departement_code", "zoning_class"])
    for table, key in _KEYS.items():
        op.drop_constraint(f"{table}_pkey", table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, [*key, "departement_code"])
    op.execute(
        """
        INSERT INTO parcel_building (parcel_id, departement_code, commune_insee,
                                     building_count, built_m2, light_only, building_use)
        SELECT q.id, q.departement_code, q.commune_insee, count(*), sum(b.area_m2),
               bool_and(NOT b.hard),
               (array_agg(b.usage ORDER BY b.area_m2 DESC)
                    FILTER (WHERE b.usage IS NOT NULL))[1]
        FROM parcel q
        CROSS JOIN LATERAL (
            SELECT b.area_m2, b.hard, b.usage FROM building b
            WHERE b.geom_point && q.geom AND ST_Intersects(q.geom, b.geom_point)
              AND b.source = CASE WHEN EXISTS (
                                       SELECT 1 FROM building c
                                       WHERE c.commune_insee = q.commune_insee
                                         AND c.source = 'cadastre')
                                  THEN 'cadastre' ELSE 'bdtopo' END
            OFFSET 0
        ) b
        WHERE q.commune_insee IN (SELECT commune_insee FROM building)
        GROUP BY q.id, q.departement_code, q.commune_insee
        """
    )


def downgrade() -> None:
    for table, key in _KEYS.items():
        op.drop_constraint(f"{table}_pkey", table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, key)
    op.drop_index("plu_zone_departement_idx", table_name="plu_zone")
    op.drop_index("economic_site_departement_idx", table_name="economic_site")
    op.drop_index("friche_departement_idx", table_name="friche")
    op.drop_index("parcel_building_commune_idx", table_name="parcel_building")
    op.drop_table("parcel_building")
