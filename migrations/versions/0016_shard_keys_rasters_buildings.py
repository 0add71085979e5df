"""The département in the keys of the per-parcel raster statistics and of the buildings
(the shard key, docs/scale.md)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24

Written from geo/db/schema.py (tables ``parcel_terrain``, ``parcel_hazard``, ``building``).
The raster statistics already computed take their parcel's département from its id (the
commune's INSEE code starts it: two characters, three overseas), as geo.crs.departement_of
does at this revision.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


_KEYS = {
    "parcel_terrain": ["parcel_id"],
    "parcel_hazard": ["parcel_id", "hazard", "hazard_class"],
}


def upgrade() -> None:
    for table, key in _KEYS.items():
        op.add_column(table, sa.Column("departement_code", sa.String(3), nullable=True))
        op.execute(
            f"""UPDATE {table} SET departement_code =
                    CASE WHEN parcel_id ~ '^9[78]' THEN left(parcel_id, 3)
                         ELSE left(parcel_id, 2) END"""
        )
        op.alter_column(table, "departement_code", nullable=False)
        op.drop_constraint(f"{table}_pkey", table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, [*key, "departement_code"])
    op.drop_constraint("building_pkey", "building", type_="primary")
    op.create_primary_key("building_pkey", "building", ["id", "departement_code"])


def downgrade() -> None:
    op.drop_constraint("building_pkey", "building", type_="primary")
    op.create_primary_key("building_pkey", "building", ["id"])
    for table, key in _KEYS.items():
        op.drop_constraint(f"{table}_pkey", table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, key)
        op.drop_column(table, "departement_code")
