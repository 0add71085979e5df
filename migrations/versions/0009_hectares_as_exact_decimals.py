"""Hectares of the project ledger as exact decimals

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23

Written by hand (alembic --autogenerate sees the type change, not the rounding). Summing
floats left 2.74e-14 ha reserved and -0.0 once every project was completed or abandoned
(issue 11, point 14): the ledger's hectares become numeric(14,4), four decimals (1 m²),
rounded once when measured (geo.ledger.envelope.hectares). Existing values are rounded the same
way; ALTER TABLE fires no trigger, so the append-only rule stays untouched.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = {
    "project": ("area_ha", "naf_ha"),
    "envelope_entry": ("reserved_delta_ha", "consumed_delta_ha"),
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        changes = ", ".join(
            f"ALTER COLUMN {c} TYPE numeric(14,4) USING round({c}::numeric, 4)" for c in columns
        )
        op.execute(f"ALTER TABLE {table} {changes}")


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        changes = ", ".join(f"ALTER COLUMN {c} TYPE double precision" for c in columns)
        op.execute(f"ALTER TABLE {table} {changes}")
