"""What each import covers and whether it is synthetic; a remediation cost that may be unknown

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07

``import_run.communes``: the communes where the import put data (with ``departements``, its
coverage): a criterion's lineage cites an import only where it covers the parcel
(geo.scoring.lineage); an older run keeps the départements it recorded, and one that
recorded none covers nothing until its file is imported again. ``import_run.synthetic``:
the file is made-up demonstration data (its name says ``SYNTHETIQUE``/``SYNTHETIC``), so
every figure computed from it says so.
``parcel_features.remediation_cost_eur`` becomes nullable: NULL where the parcel's pollution
is unknown (docs/methode.md), never a guessed 0 €.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("import_run", sa.Column("communes", ARRAY(sa.Text())))
    op.add_column(
        "import_run",
        sa.Column("synthetic", sa.Boolean(), nullable=False, server_default="false"),
    )
    op.execute("UPDATE import_run SET synthetic = source ~* 'SYNTH(E|É)TI(C|QUE)'")
    op.alter_column("parcel_features", "remediation_cost_eur", nullable=True)


def downgrade() -> None:
    op.execute(
        "UPDATE parcel_features SET remediation_cost_eur = 0 WHERE remediation_cost_eur IS NULL"
    )
    op.alter_column("parcel_features", "remediation_cost_eur", nullable=False)
    op.drop_column("import_run", "synthetic")
    op.drop_column("import_run", "communes")
