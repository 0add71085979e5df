"""Core schema: territories, cadastre parcels, import runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _geom(nullable: bool = True) -> sa.Column:
    return sa.Column(
        "geom", Geometry("MULTIPOLYGON", srid=2154, spatial_index=False), nullable=nullable
    )


def _gist(table: str) -> None:
    op.create_index(f"{table}_geom_idx", table, ["geom"], postgresql_using="gist")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    op.create_table(
        "region",
        sa.Column("code", sa.String(3), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        _geom(),
    )
    op.create_table(
        "departement",
        sa.Column("code", sa.String(3), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("region_code", sa.String(3), sa.ForeignKey("region.code"), nullable=False),
        _geom(),
    )
    op.create_table(
        "territoire_industrie",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("region_code", sa.String(3), sa.ForeignKey("region.code"), nullable=False),
    )
    op.create_table(
        "epci",
        sa.Column("siren", sa.String(9), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("population", sa.Integer),
        sa.Column(
            "territoire_industrie_id", sa.String(20), sa.ForeignKey("territoire_industrie.id")
        ),
        sa.CheckConstraint("siren ~ '^[0-9]{9}$'", name="epci_siren_format"),
    )
    op.create_table(
        "commune",
        sa.Column("insee", sa.String(5), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("parent_insee", sa.String(5), sa.ForeignKey("commune.insee")),
        sa.Column(
            "departement_code", sa.String(3), sa.ForeignKey("departement.code"), nullable=False
        ),
        sa.Column("region_code", sa.String(3), sa.ForeignKey("region.code"), nullable=False),
        sa.Column("epci_siren", sa.String(9), sa.ForeignKey("epci.siren")),
        sa.Column("siren", sa.String(9)),
        sa.Column("population", sa.Integer),
        _geom(),
        sa.CheckConstraint("insee ~ '^[0-9][0-9AB][0-9]{3}$'", name="commune_insee_format"),
    )
    op.create_index("commune_epci_siren_idx", "commune", ["epci_siren"])
    op.create_index("commune_departement_code_idx", "commune", ["departement_code"])
    op.create_table(
        "commune_former_code",
        sa.Column("former_insee", sa.String(5), primary_key=True),
        sa.Column("insee", sa.String(5), sa.ForeignKey("commune.insee"), primary_key=True),
    )
    op.create_table(
        "parcel",
        sa.Column("id", sa.String(14), primary_key=True),
        sa.Column("departement_code", sa.String(3), primary_key=True),
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.Column("prefixe", sa.String(3), nullable=False),
        sa.Column("section", sa.String(2), nullable=False),
        sa.Column("numero", sa.String(4), nullable=False),
        sa.Column("contenance", sa.Integer),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("created", sa.Date),
        sa.Column("updated", sa.Date),
        _geom(nullable=False),
        sa.CheckConstraint(
            # Cheap enough for bulk COPY (a regex here costs more than the row itself);
            # the loaders check the format of each part.
            "id = commune_insee || prefixe || section || numero AND char_length(id) = 14",
            name="parcel_id_parts",
        ),
        # One partition per département, created by the loader (geo/db/partitions.py).
        postgresql_partition_by="LIST (departement_code)",
    )
    op.create_index("parcel_commune_insee_idx", "parcel", ["commune_insee"])
    op.create_table(
        "import_run",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column(
            "finished_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("summary", JSONB, nullable=False),
    )
    for table in ("region", "departement", "commune", "parcel"):
        _gist(table)


def downgrade() -> None:
    for table in (
        "import_run",
        "parcel",
        "commune_former_code",
        "commune",
        "epci",
        "territoire_industrie",
        "departement",
        "region",
    ):
        op.drop_table(table)
