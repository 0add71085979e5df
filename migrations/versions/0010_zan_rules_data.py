"""ZAN rules as data: territorialised targets, planning documents, PENE list, commune splits

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23

Written from geo/db/schema.py (section "ZAN rules as data"). Re-chained after 0009 at merge:
it does not depend on 0009's content.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zan_target",
        sa.Column("land_level", sa.String(16), nullable=False),
        sa.Column("land_code", sa.String(64), nullable=False),
        sa.Column("parent_level", sa.String(16), nullable=True),
        sa.Column("parent_code", sa.String(64), nullable=True),
        sa.Column("reduction", sa.Float(), nullable=False),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("regulatory", sa.Boolean(), nullable=False),
        sa.Column("document_url", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.CheckConstraint("reduction >= 0 AND reduction <= 1", name="zan_target_reduction_range"),
        sa.PrimaryKeyConstraint("land_level", "land_code"),
    )
    op.create_table(
        "zan_target_member",
        sa.Column("land_level", sa.String(16), nullable=False),
        sa.Column("land_code", sa.String(64), nullable=False),
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.PrimaryKeyConstraint("land_level", "land_code", "commune_insee"),
    )
    op.create_table(
        "commune_planning_document",
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.Column("document", sa.String(8), nullable=False),
        sa.Column("procedure_state", sa.String(12), nullable=True),
        sa.Column("state_date", sa.Date(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "document IN ('PLU', 'PLUi', 'CC', 'DTL', 'RNU')", name="planning_document_kind"
        ),
        sa.PrimaryKeyConstraint("commune_insee"),
    )
    op.create_table(
        "pene_project",
        sa.Column("pene_id", sa.String(32), nullable=False),
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("hectares", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("hectares >= 0", name="pene_project_hectares"),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("pene_id", "commune_insee"),
    )
    op.create_table(
        "commune_split",
        sa.Column("source_insee", sa.String(5), nullable=False),
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.CheckConstraint("share > 0 AND share <= 1", name="commune_split_share"),
        sa.PrimaryKeyConstraint("source_insee", "commune_insee"),
    )


def downgrade() -> None:
    for table in (
        "commune_split",
        "pene_project",
        "commune_planning_document",
        "zan_target_member",
        "zan_target",
    ):
        op.drop_table(table)
