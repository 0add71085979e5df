"""Economic zones, NAF consumption, per-parcel raster statistics

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Generated with alembic --autogenerate from geo/db/schema.py, then reviewed. The
geospatial operations come from geoalchemy2.alembic_helpers (registered in env.py).
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_geospatial_table(
        "economic_land_unit",
        sa.Column("terr_id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("surf_brute_ha", sa.Float(), nullable=True),
        sa.Column("utile", sa.Boolean(), nullable=True),
        sa.Column("maitrise_fonc", sa.Text(), nullable=True),
        sa.Column("stade_amngt", sa.Text(), nullable=True),
        sa.Column("stade_comm", sa.Text(), nullable=True),
        sa.Column("etat_occup", sa.Text(), nullable=True),
        sa.Column("usage", sa.Text(), nullable=True),
        sa.Column("cle_en_main", sa.Boolean(), nullable=True),
        sa.Column("identified_on", sa.Date(), nullable=True),
        sa.Column("updated_on", sa.Date(), nullable=True),
        sa.Column("departement_code", sa.String(length=3), nullable=True),
        sa.Column("area_m2", sa.Float(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=2154,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("terr_id"),
    )
    op.create_geospatial_index(
        "economic_land_unit_geom_idx",
        "economic_land_unit",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "economic_land_unit_site_id_idx", "economic_land_unit", ["site_id"], unique=False
    )
    op.create_table(
        "economic_land_unit_state",
        sa.Column("terr_id", sa.String(length=64), nullable=False),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.Column("etat_occup", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("terr_id", "observed_on"),
    )
    op.create_geospatial_table(
        "economic_site",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("pole_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("site_type", sa.Text(), nullable=True),
        sa.Column("vocadomi", sa.Text(), nullable=True),
        sa.Column("etat", sa.Text(), nullable=True),
        sa.Column("surf_brute_ha", sa.Float(), nullable=True),
        sa.Column("surf_utile_ha", sa.Float(), nullable=True),
        sa.Column("epci_siren", sa.String(length=9), nullable=True),
        sa.Column("commune_insee_source", sa.String(length=5), nullable=True),
        sa.Column("commune_insee", sa.String(length=5), nullable=True),
        sa.Column("departement_code", sa.String(length=3), nullable=True),
        sa.Column("declared_vacancy_rate", sa.Float(), nullable=True),
        sa.Column("label_cle_en_main", sa.Boolean(), nullable=True),
        sa.Column("voca_industrielle", sa.Boolean(), nullable=True),
        sa.Column("voca_commerciale", sa.Boolean(), nullable=True),
        sa.Column("reseau_fret_ferroviaire", sa.Boolean(), nullable=True),
        sa.Column("autoroute_echang_dist_km", sa.Float(), nullable=True),
        sa.Column("gare_fret_dist_km", sa.Float(), nullable=True),
        sa.Column("identified_on", sa.Date(), nullable=True),
        sa.Column("updated_on", sa.Date(), nullable=True),
        sa.Column("area_m2", sa.Float(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=2154,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("site_id"),
    )
    op.create_index(
        "economic_site_commune_insee_idx", "economic_site", ["commune_insee"], unique=False
    )
    op.create_geospatial_index(
        "economic_site_geom_idx",
        "economic_site",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "naf_consumption_vintage",
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("first_year", sa.Integer(), nullable=False),
        sa.Column("last_year", sa.Integer(), nullable=False),
        sa.Column("provisional_year", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("vintage"),
    )
    op.create_table(
        "parcel_hazard",
        sa.Column("parcel_id", sa.String(length=14), nullable=False),
        sa.Column("hazard", sa.String(length=32), nullable=False),
        sa.Column("hazard_class", sa.Integer(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("parcel_id", "hazard", "hazard_class"),
    )
    op.create_table(
        "parcel_terrain",
        sa.Column("parcel_id", sa.String(length=14), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("elevation_min_m", sa.Float(), nullable=True),
        sa.Column("elevation_mean_m", sa.Float(), nullable=True),
        sa.Column("elevation_max_m", sa.Float(), nullable=True),
        sa.Column("slope_mean_pct", sa.Float(), nullable=True),
        sa.Column("cells", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("parcel_id"),
    )
    op.create_table(
        "economic_land_unit_parcel",
        sa.Column("terr_id", sa.String(length=64), nullable=False),
        sa.Column("parcel_id", sa.String(length=14), nullable=False),
        sa.ForeignKeyConstraint(["terr_id"], ["economic_land_unit.terr_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("terr_id", "parcel_id"),
    )
    op.create_table(
        "naf_consumption",
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("commune_insee_source", sa.String(length=5), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("commune_insee", sa.String(length=5), nullable=True),
        sa.Column("departement_code", sa.String(length=3), nullable=False),
        sa.Column("total_m2", sa.Float(), nullable=False),
        sa.Column("activity_m2", sa.Float(), nullable=True),
        sa.Column("housing_m2", sa.Float(), nullable=True),
        sa.Column("mixed_m2", sa.Float(), nullable=True),
        sa.Column("road_m2", sa.Float(), nullable=True),
        sa.Column("rail_m2", sa.Float(), nullable=True),
        sa.Column("unknown_m2", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["vintage"], ["naf_consumption_vintage.vintage"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("vintage", "commune_insee_source", "year"),
    )
    op.create_index(
        "naf_consumption_commune_idx", "naf_consumption", ["commune_insee", "year"], unique=False
    )


def downgrade() -> None:
    op.drop_index("naf_consumption_commune_idx", table_name="naf_consumption")
    op.drop_table("naf_consumption")
    op.drop_table("economic_land_unit_parcel")
    op.drop_table("parcel_terrain")
    op.drop_table("parcel_hazard")
    op.drop_table("naf_consumption_vintage")
    op.drop_geospatial_index(
        "economic_site_geom_idx",
        table_name="economic_site",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_index("economic_site_commune_insee_idx", table_name="economic_site")
    op.drop_geospatial_table("economic_site")
    op.drop_table("economic_land_unit_state")
    op.drop_index("economic_land_unit_site_id_idx", table_name="economic_land_unit")
    op.drop_geospatial_index(
        "economic_land_unit_geom_idx",
        table_name="economic_land_unit",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("economic_land_unit")
