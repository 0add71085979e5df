"""Planning documents keep their procedure's three dates (prescription, arrêt,
approbation), one row per commune and document; what each PENE actually consumed, by
commune and year; a project says which PENE it is; a SCoT perimeter its name

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-07

Written from geo/db/schema.py (tables ``commune_planning_document``, ``pene_consumption``).
Loi 2023-630 art. 4 grants the garantie communale to a commune covered by a PLU, a document
en tenant lieu or a carte communale "prescrit, arrêté ou approuvé" before 22 August 2026:
any one of the three dates is enough, so the table keeps the three, and an RNU commune with
a procedure under way keeps both rows. An existing row's single date moves to the column of
its state. PENE consumption is counted nationally (art. 3): ``pene_consumption`` holds what
was observed, apart from the annex I forecast (``pene_project``). ``project.pene_id`` names
the PENE a project is, so that it never draws on both the PENE forfait and the industrial
envelope.
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_STATE_COLUMN = {"prescrit": "prescribed_on", "arrêté": "arrete_on", "approuvé": "approved_on"}


def upgrade() -> None:
    for column in _STATE_COLUMN.values():
        op.add_column("commune_planning_document", sa.Column(column, sa.Date(), nullable=True))
    for state, column in _STATE_COLUMN.items():
        op.execute(
            sa.text(
                f"UPDATE commune_planning_document SET {column} = state_date "
                "WHERE procedure_state = :state"
            ).bindparams(state=state)
        )
    op.drop_column("commune_planning_document", "procedure_state")
    op.drop_column("commune_planning_document", "state_date")
    op.drop_constraint(
        "commune_planning_document_pkey", "commune_planning_document", type_="primary"
    )
    op.create_primary_key(
        "commune_planning_document_pkey", "commune_planning_document", ["commune_insee", "document"]
    )
    op.create_table(
        "pene_consumption",
        sa.Column("pene_id", sa.String(32), nullable=False),
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("hectares", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.CheckConstraint("hectares >= 0", name="pene_consumption_hectares"),
        sa.PrimaryKeyConstraint("pene_id", "commune_insee", "year"),
    )
    # projects are append-only (a trigger refuses updates): a PENE recorded before this
    # column is found through pene_project.project_id (geo.ledger.envelope._check_single_draw)
    op.add_column("project", sa.Column("pene_id", sa.String(32), nullable=True))
    # a SCoT perimeter names its SCoT (/trajectories/scot/{code})
    op.add_column("zan_target_member", sa.Column("land_name", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("zan_target_member", "land_name")
    op.drop_column("project", "pene_id")
    op.drop_table("pene_consumption")
    # one row per commune again: the covering document (not RNU) wins, its latest date kept
    op.execute(
        "DELETE FROM commune_planning_document d USING commune_planning_document o "
        "WHERE d.commune_insee = o.commune_insee AND d.document = 'RNU' AND o.document <> 'RNU'"
    )
    op.execute(
        "DELETE FROM commune_planning_document d USING commune_planning_document o "
        "WHERE d.commune_insee = o.commune_insee AND d.document > o.document"
    )
    op.drop_constraint(
        "commune_planning_document_pkey", "commune_planning_document", type_="primary"
    )
    op.create_primary_key(
        "commune_planning_document_pkey", "commune_planning_document", ["commune_insee"]
    )
    op.add_column(
        "commune_planning_document", sa.Column("procedure_state", sa.String(12), nullable=True)
    )
    op.add_column("commune_planning_document", sa.Column("state_date", sa.Date(), nullable=True))
    for state, column in reversed(list(_STATE_COLUMN.items())):
        op.execute(
            sa.text(
                f"UPDATE commune_planning_document SET procedure_state = :state, "
                f"state_date = {column} WHERE procedure_state IS NULL AND {column} IS NOT NULL"
            ).bindparams(state=state)
        )
    for column in _STATE_COLUMN.values():
        op.drop_column("commune_planning_document", column)
