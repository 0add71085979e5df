"""Sources kept fresh by `foncier sync`, saved searches and their alerts

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23

Written from geo/db/schema.py (section "sources kept fresh, saved searches and their
alerts"). It does not depend on other 0011 revisions: the lead re-chains it at merge.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("part", sa.String(32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("vintage", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("import_run_id", sa.Integer(), sa.ForeignKey("import_run.id"), nullable=True),
        sa.PrimaryKeyConstraint("source_id", "part"),
    )
    op.create_table(
        "saved_search",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("query", postgresql.JSONB(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("kind IN ('parcels', 'sites')", name="saved_search_kind"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "saved_search_match",
        sa.Column("saved_search_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.Column("detail", postgresql.JSONB(), nullable=False),
        sa.ForeignKeyConstraint(["saved_search_id"], ["saved_search.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("saved_search_id", "item_id"),
    )
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("saved_search_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("change", sa.String(12), nullable=False),
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.Column("detail", postgresql.JSONB(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("webhook_state", sa.String(16), nullable=True),
        sa.CheckConstraint("change IN ('appeared', 'disappeared')", name="alert_change"),
        sa.ForeignKeyConstraint(["saved_search_id"], ["saved_search.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("alert_search_idx", "alert", ["saved_search_id", "id"])


def downgrade() -> None:
    op.drop_index("alert_search_idx", table_name="alert")
    op.drop_table("alert")
    op.drop_table("saved_search_match")
    op.drop_table("saved_search")
    op.drop_table("sources")
