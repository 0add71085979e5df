"""Buildings, parcel owners, their per-parcel features, and import lineage (issue 14)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23

Written from geo/db/schema.py (sections "what stands on the land", parcel_features,
import_run).
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _features() -> tuple[sa.Column, ...]:
    return (
        sa.Column("built_m2", sa.Float(), nullable=True),
        sa.Column("built_share", sa.Float(), nullable=True),
        sa.Column("building_count", sa.Integer(), nullable=True),
        sa.Column("light_only", sa.Boolean(), nullable=True),
        sa.Column("building_use", sa.String(16), nullable=True),
        sa.Column("owner_group", sa.String(24), nullable=True),
        sa.Column("owner_siren", sa.String(9), nullable=True),
        sa.Column("owner_name", sa.Text(), nullable=True),
    )


def upgrade() -> None:
    op.create_table(
        "building",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=True),
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.Column("departement_code", sa.String(3), nullable=False),
        sa.Column("hard", sa.Boolean(), nullable=True),
        sa.Column("nature", sa.Text(), nullable=True),
        sa.Column("usage", sa.String(16), nullable=True),
        sa.Column("updated_on", sa.Date(), nullable=True),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column(
            "geom",
            Geometry("MULTIPOLYGON", srid=2154, spatial_index=False),
            nullable=False,
        ),
        sa.Column("geom_point", Geometry("POINT", srid=2154, spatial_index=False), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("building_commune_idx", "building", ["commune_insee", "source"])
    op.create_index("building_geom_idx", "building", ["geom"], postgresql_using="gist")
    op.create_index("building_geom_point_idx", "building", ["geom_point"], postgresql_using="gist")
    op.create_table(
        "parcel_owner",
        sa.Column("parcel_id", sa.String(14), nullable=False),
        sa.Column("departement_code", sa.String(3), nullable=False),
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.Column("owner_group", sa.String(24), nullable=False),
        sa.Column("siren", sa.String(9), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("legal_form", sa.String(4), nullable=True),
        sa.Column("legal_form_short", sa.String(8), nullable=True),
        sa.Column("right_code", sa.String(1), nullable=True),
        sa.Column("owner_rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("parcel_id"),
    )
    op.create_index("parcel_owner_commune_idx", "parcel_owner", ["commune_insee"])
    for column in _features():
        op.add_column("parcel_features", column)
    op.add_column("import_run", sa.Column("departements", ARRAY(sa.Text()), nullable=True))
    op.add_column("import_run", sa.Column("vintage", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("import_run", "vintage")
    op.drop_column("import_run", "departements")
    for column in reversed(_features()):
        op.drop_column("parcel_features", column.name)
    op.drop_index("parcel_owner_commune_idx", table_name="parcel_owner")
    op.drop_table("parcel_owner")
    op.drop_index("building_geom_point_idx", table_name="building")
    op.drop_index("building_geom_idx", table_name="building")
    op.drop_index("building_commune_idx", table_name="building")
    op.drop_table("building")
