"""Land layers: friches, polluted sites, PLU zones.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _geom(kind: str, name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, Geometry(kind, srid=2154, spatial_index=False), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "friche",
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("site_type", sa.Text),
        sa.Column("site_statut", sa.Text),
        sa.Column("sol_pollution_existe", sa.Text),
        sa.Column("proprio_type", sa.Text),
        sa.Column("proprio_personne", sa.Text),
        sa.Column("activite_libelle", sa.Text),
        sa.Column("commune_insee_source", sa.String(5)),
        sa.Column("commune_insee", sa.String(5)),
        sa.Column("departement_code", sa.String(3)),
        sa.Column("unite_fonciere_surface_m2", sa.Float),
        sa.Column("bati_surface_m2", sa.Float),
        sa.Column("urba_zone_type", sa.Text),
        sa.Column("urba_zone_lib", sa.Text),
        sa.Column("source_nom", sa.Text),
        sa.Column("source_producteur", sa.Text),
        sa.Column("identified_on", sa.Date),
        sa.Column("updated_on", sa.Date),
        sa.Column("area_m2", sa.Float),
        _geom("POINT", "geom_point"),
        _geom("MULTIPOLYGON", "geom"),
    )
    op.create_index("friche_commune_insee_idx", "friche", ["commune_insee"])
    op.create_table(
        "friche_parcel",
        sa.Column(
            "site_id",
            sa.String(64),
            sa.ForeignKey("friche.site_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("parcel_id", sa.String(14), primary_key=True),
    )
    op.create_index("friche_parcel_parcel_id_idx", "friche_parcel", ["parcel_id"])

    op.create_table(
        "polluted_site",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("commune_insee_source", sa.String(5)),
        sa.Column("commune_insee", sa.String(5)),
        sa.Column("departement_code", sa.String(3)),
        sa.Column("address", sa.Text),
        sa.Column("pollutants_soil", sa.Text),
        sa.Column("pollutants_groundwater", sa.Text),
        _geom("POINT", "geom_point"),
    )
    op.create_index("polluted_site_commune_insee_idx", "polluted_site", ["commune_insee"])
    op.create_table(
        "polluted_site_parcel",
        sa.Column(
            "site_id",
            sa.String(32),
            sa.ForeignKey("polluted_site.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("parcel_id", sa.String(14), primary_key=True),
    )
    op.create_index("polluted_site_parcel_parcel_id_idx", "polluted_site_parcel", ["parcel_id"])

    op.create_table(
        "plu_zone",
        sa.Column("gpu_id", sa.String(32), primary_key=True),
        sa.Column("idurba", sa.Text),
        sa.Column("partition", sa.Text),
        sa.Column("libelle", sa.Text, nullable=False),
        sa.Column("libelong", sa.Text),
        sa.Column("typezone", sa.Text, nullable=False),
        sa.Column("destdomi", sa.Text),
        sa.Column("datvalid", sa.Date),
        sa.Column("zoning_class", sa.String(16), nullable=False),
        sa.Column("commune_insee", sa.String(5)),
        sa.Column("departement_code", sa.String(3)),
        sa.Column("area_m2", sa.Float),
        _geom("MULTIPOLYGON", "geom", nullable=False),
    )
    op.create_index("plu_zone_commune_insee_idx", "plu_zone", ["commune_insee"])

    for table in ("friche", "plu_zone"):
        op.create_index(f"{table}_geom_idx", table, ["geom"], postgresql_using="gist")
    for table in ("friche", "polluted_site"):
        op.create_index(f"{table}_geom_point_idx", table, ["geom_point"], postgresql_using="gist")


def downgrade() -> None:
    for table in ("plu_zone", "polluted_site_parcel", "polluted_site", "friche_parcel", "friche"):
        op.drop_table(table)
