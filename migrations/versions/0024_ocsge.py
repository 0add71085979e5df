"""IGN OCS GE deliveries (artificialisation product) per département and millésime, and
their polygons with their class under the décret n° 2023-1096 nomenclature

Revision ID: 0024
Revises: 0021
Create Date: 2026-12-07

Written from geo/db/schema.py (tables ``ocsge_delivery``, ``ocsge_polygon``). From 2031 the
ZAN unit is net artificialisation measured on OCS GE (geo.zan.artificialisation).
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ocsge_delivery",
        sa.Column("departement_code", sa.String(3), nullable=False),
        sa.Column("millesime", sa.Integer(), nullable=False),
        sa.Column("classification", sa.String(16), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("polygons", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "classification IN ('ign-artif', 'cs-us-matrix')",
            name="ocsge_delivery_classification",
        ),
        sa.PrimaryKeyConstraint("departement_code", "millesime"),
    )
    op.create_table(
        "ocsge_polygon",
        sa.Column("departement_code", sa.String(3), nullable=False),
        sa.Column("millesime", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("code_cs", sa.String(16), nullable=False),
        sa.Column("code_us", sa.String(16), nullable=False),
        sa.Column("artificial", sa.Boolean(), nullable=False),
        sa.Column("crit_seuil", sa.Boolean(), nullable=True),
        sa.Column(
            "geom",
            Geometry("MULTIPOLYGON", srid=2154, spatial_index=False),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["departement_code", "millesime"],
            ["ocsge_delivery.departement_code", "ocsge_delivery.millesime"],
            name="ocsge_polygon_delivery_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("departement_code", "millesime", "id"),
    )
    op.create_index("ocsge_polygon_geom_idx", "ocsge_polygon", ["geom"], postgresql_using="gist")


def downgrade() -> None:
    op.drop_index("ocsge_polygon_geom_idx", table_name="ocsge_polygon")
    op.drop_table("ocsge_polygon")
    op.drop_table("ocsge_delivery")
