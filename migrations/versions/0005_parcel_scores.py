"""Parcel features and scores

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

Generated with alembic --autogenerate from geo/db/schema.py, then reviewed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parcel_features",
        sa.Column("parcel_id", sa.String(length=14), nullable=False),
        sa.Column("departement_code", sa.String(length=3), nullable=False),
        sa.Column("commune_insee", sa.String(length=5), nullable=False),
        sa.Column("area_ha", sa.Float(), nullable=False),
        sa.Column("compactness", sa.Float(), nullable=True),
        sa.Column("zoning_class", sa.String(length=16), nullable=True),
        sa.Column("on_friche", sa.Boolean(), nullable=True),
        sa.Column("friche_site_id", sa.String(length=64), nullable=True),
        sa.Column("in_economic_zone", sa.Boolean(), nullable=True),
        sa.Column("activity_zone_distance_m", sa.Float(), nullable=True),
        sa.Column("pollution", sa.String(length=16), nullable=True),
        sa.Column("slope_mean_pct", sa.Float(), nullable=True),
        sa.Column("flood_high_share", sa.Float(), nullable=True),
        sa.Column("envelope_impact_ha", sa.Float(), nullable=False),
        sa.Column("remediation_cost_eur", sa.Float(), nullable=False),
        sa.Column("motorway_distance_m", sa.Float(), nullable=True),
        sa.Column("rail_siding", sa.Boolean(), nullable=True),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("parcel_id"),
    )
    op.create_index(
        "parcel_features_commune_idx", "parcel_features", ["commune_insee"], unique=False
    )
    op.create_table(
        "parcel_score",
        sa.Column("parcel_id", sa.String(length=14), nullable=False),
        sa.Column("profile", sa.String(length=32), nullable=False),
        sa.Column("departement_code", sa.String(length=3), nullable=False),
        sa.Column("commune_insee", sa.String(length=5), nullable=False),
        sa.Column("epci_siren", sa.String(length=9), nullable=True),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("reliability", sa.Float(), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("area_ha", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("parcel_id", "profile"),
    )
    op.create_index(
        "parcel_score_commune_idx",
        "parcel_score",
        ["profile", "commune_insee", sa.literal_column("score DESC NULLS LAST")],
        unique=False,
    )
    op.create_index(
        "parcel_score_epci_idx",
        "parcel_score",
        ["profile", "epci_siren", sa.literal_column("score DESC NULLS LAST")],
        unique=False,
    )
    op.create_index(
        "parcel_score_departement_idx",
        "parcel_score",
        ["profile", "departement_code", sa.literal_column("score DESC NULLS LAST")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("parcel_score_epci_idx", table_name="parcel_score")
    op.drop_index("parcel_score_departement_idx", table_name="parcel_score")
    op.drop_index("parcel_score_commune_idx", table_name="parcel_score")
    op.drop_table("parcel_score")
    op.drop_index("parcel_features_commune_idx", table_name="parcel_features")
    op.drop_table("parcel_features")
