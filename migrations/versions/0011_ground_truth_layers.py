"""Real Territoires d'industrie (outline, members), PLU documents and prescriptions,
regulatory risk zones (PPR, PPRT) and their per-parcel features

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23

Written from geo/db/schema.py. The Territoire d'industrie outline view now reads the
published outline, else the union of the member communes (territoire_industrie_commune).
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_OLD_TI_OUTLINE = """
    CREATE MATERIALIZED VIEW territoire_industrie_outline AS
    SELECT e.territoire_industrie_id AS id,
           ST_Multi(ST_Union(o.geom))::geometry(MultiPolygon, 2154) AS geom,
           bool_and(o.geometry_complete) AS geometry_complete
    FROM epci e JOIN epci_outline o ON o.siren = e.siren
    WHERE e.territoire_industrie_id IS NOT NULL
    GROUP BY e.territoire_industrie_id
"""
_NEW_TI_OUTLINE = """
    CREATE MATERIALIZED VIEW territoire_industrie_outline AS
    SELECT t.id,
           coalesce(t.geom, u.geom)::geometry(MultiPolygon, 2154) AS geom,
           coalesce(t.geom IS NOT NULL OR u.complete, FALSE) AS geometry_complete
    FROM territoire_industrie t
    LEFT JOIN (
        SELECT m.territoire_industrie_id AS id, ST_Multi(ST_Union(c.geom)) AS geom,
               bool_and(c.geom IS NOT NULL) AS complete
        FROM territoire_industrie_commune m JOIN commune c ON c.insee = m.insee
        GROUP BY m.territoire_industrie_id
    ) u ON u.id = t.id
    WHERE t.geom IS NOT NULL OR u.id IS NOT NULL
"""


def _outline_indexes() -> None:
    op.execute(
        "CREATE UNIQUE INDEX territoire_industrie_outline_id_idx "
        "ON territoire_industrie_outline (id)"
    )
    op.execute(
        "CREATE INDEX territoire_industrie_outline_geom_idx "
        "ON territoire_industrie_outline USING gist (geom)"
    )


def _geom(kind: str = "MULTIPOLYGON", nullable: bool = True) -> sa.Column:
    return sa.Column("geom", Geometry(kind, srid=2154, spatial_index=False), nullable=nullable)


def upgrade() -> None:
    op.add_column("territoire_industrie", _geom())
    op.create_index(
        "territoire_industrie_geom_idx",
        "territoire_industrie",
        ["geom"],
        postgresql_using="gist",
    )
    op.create_table(
        "territoire_industrie_member",
        sa.Column("territoire_industrie_id", sa.String(20), nullable=False),
        sa.Column("siren", sa.String(9), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("resolved_as", sa.String(8), nullable=False),
        sa.ForeignKeyConstraint(
            ["territoire_industrie_id"], ["territoire_industrie.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("territoire_industrie_id", "siren"),
    )
    op.create_table(
        "territoire_industrie_commune",
        sa.Column("territoire_industrie_id", sa.String(20), nullable=False),
        sa.Column("insee", sa.String(5), nullable=False),
        sa.Column("via", sa.String(8), nullable=False),
        sa.ForeignKeyConstraint(
            ["territoire_industrie_id"], ["territoire_industrie.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["insee"], ["commune.insee"]),
        sa.PrimaryKeyConstraint("territoire_industrie_id", "insee"),
    )
    op.create_index(
        "territoire_industrie_commune_insee_idx", "territoire_industrie_commune", ["insee"]
    )
    # memberships already loaded through EPCI keep their communes
    op.execute(
        """INSERT INTO territoire_industrie_commune (territoire_industrie_id, insee, via)
           SELECT e.territoire_industrie_id, c.insee, 'epci' FROM epci e
           JOIN commune c ON c.epci_siren = e.siren
           WHERE e.territoire_industrie_id IS NOT NULL"""
    )
    op.execute("DROP MATERIALIZED VIEW territoire_industrie_outline")
    op.execute(_NEW_TI_OUTLINE)
    _outline_indexes()

    op.create_table(
        "plu_document",
        sa.Column("idurba", sa.Text(), nullable=False),
        sa.Column("typedoc", sa.Text(), nullable=True),
        sa.Column("etat", sa.Text(), nullable=True),
        sa.Column("nomproc", sa.Text(), nullable=True),
        sa.Column("datappro", sa.Date(), nullable=True),
        sa.Column("datefin", sa.Date(), nullable=True),
        sa.Column("cnig_version", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("idurba"),
    )
    op.create_table(
        "plu_prescription",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("idurba", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(4), nullable=False),
        sa.Column("typepsc", sa.String(2), nullable=False),
        sa.Column("stypepsc", sa.String(2), nullable=True),
        sa.Column("libelle", sa.Text(), nullable=True),
        sa.Column("txt", sa.Text(), nullable=True),
        sa.Column("effect", sa.String(8), nullable=False),
        sa.Column("commune_insee", sa.String(5), nullable=True),
        sa.Column("departement_code", sa.String(3), nullable=True),
        _geom("GEOMETRY", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "plu_prescription_geom_idx", "plu_prescription", ["geom"], postgresql_using="gist"
    )
    op.create_table(
        "risk_zone",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("plan", sa.String(8), nullable=False),
        sa.Column("layer", sa.String(16), nullable=False),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("hazard_family", sa.String(16), nullable=True),
        sa.Column("hazard_level", sa.Text(), nullable=True),
        sa.Column("regulatory_class", sa.String(12), nullable=True),
        sa.Column("departement_code", sa.String(3), nullable=True),
        sa.Column("approved_on", sa.Date(), nullable=True),
        _geom(nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("risk_zone_geom_idx", "risk_zone", ["geom"], postgresql_using="gist")
    for name, kind in (
        ("risk_interdiction_share", sa.Float()),
        ("risk_prescription_share", sa.Float()),
        ("risk_regulation", sa.String(12)),
        ("risk_zones", postgresql.JSONB(astext_type=sa.Text())),
        ("prescription_exclude_share", sa.Float()),
        ("prescription_penalise_share", sa.Float()),
        ("prescription_effect", sa.String(8)),
        ("prescriptions", postgresql.JSONB(astext_type=sa.Text())),
    ):
        op.add_column("parcel_features", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for name in (
        "prescriptions",
        "prescription_effect",
        "prescription_penalise_share",
        "prescription_exclude_share",
        "risk_zones",
        "risk_regulation",
        "risk_prescription_share",
        "risk_interdiction_share",
    ):
        op.drop_column("parcel_features", name)
    op.drop_index("risk_zone_geom_idx", table_name="risk_zone")
    op.drop_table("risk_zone")
    op.drop_index("plu_prescription_geom_idx", table_name="plu_prescription")
    op.drop_table("plu_prescription")
    op.drop_table("plu_document")
    op.execute("DROP MATERIALIZED VIEW territoire_industrie_outline")
    op.execute(_OLD_TI_OUTLINE)
    _outline_indexes()
    op.drop_index("territoire_industrie_commune_insee_idx", "territoire_industrie_commune")
    op.drop_table("territoire_industrie_commune")
    op.drop_table("territoire_industrie_member")
    op.drop_index("territoire_industrie_geom_idx", table_name="territoire_industrie")
    op.drop_column("territoire_industrie", "geom")
