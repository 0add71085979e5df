"""Industrial projects and the envelope ledger

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Generated with alembic --autogenerate from geo/db/schema.py, then reviewed; the triggers
that make the ledger append-only are written by hand.
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_geospatial_table(
        "artificialised_land",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=2154,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "envelope_account",
        sa.Column("ruleset_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("ruleset_id"),
    )
    op.create_geospatial_table(
        "project",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ruleset_id", sa.String(length=64), nullable=False),
        sa.Column("epci_siren", sa.String(length=9), nullable=False),
        sa.Column("commune_insee", sa.String(length=5), nullable=True),
        sa.Column("communes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("departement_code", sa.String(length=3), nullable=True),
        sa.Column("region_code", sa.String(length=3), nullable=True),
        sa.Column("area_ha", sa.Float(), nullable=False),
        sa.Column("naf_ha", sa.Float(), nullable=False),
        sa.Column("naf_computation", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("parcel_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=2154,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["epci_siren"],
            ["epci.siren"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("project_epci_siren_idx", "project", ["epci_siren"], unique=False)
    op.create_table(
        "envelope_entry",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ruleset_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=True),
        sa.Column("reserved_delta_ha", sa.Float(), nullable=False),
        sa.Column("consumed_delta_ha", sa.Float(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("overdraft", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("corrects_entry_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["corrects_entry_id"],
            ["envelope_entry.id"],
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ruleset_id"],
            ["envelope_account.ruleset_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("envelope_entry_project_idx", "envelope_entry", ["project_id"], unique=False)

    for table in ("artificialised_land", "project"):
        op.create_index(f"{table}_geom_idx", table, ["geom"], postgresql_using="gist")

    # Append-only: nothing in the ledger (nor a recorded project) is ever changed or
    # deleted; corrections are compensating entries.
    op.execute(
        """
        CREATE FUNCTION foncier_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: record a correction entry instead', TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    for table in ("envelope_entry", "project"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION foncier_refuse_change()"
        )


def downgrade() -> None:
    for table in ("envelope_entry", "project"):
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.execute("DROP FUNCTION foncier_refuse_change()")
    op.drop_index("envelope_entry_project_idx", table_name="envelope_entry")
    op.drop_table("envelope_entry")
    op.drop_index("project_epci_siren_idx", table_name="project")
    op.drop_geospatial_table("project")
    op.drop_table("envelope_account")
    op.drop_geospatial_table("artificialised_land")
