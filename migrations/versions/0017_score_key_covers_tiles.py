"""The score table's key carries the score and the exclusion, so that tiles and OGC items
read a parcel's score from the key alone (issue 17)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

Written from geo/db/schema.py (table ``parcel_score``). A tile of the densest z14 area joins
2,325 parcels to their score: one key probe each, then one heap fetch each, a third of the
tile's time (bench/README.md). With the two columns in the key's leaves, an all-visible
page needs no heap fetch. The key's columns and order are unchanged.
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_KEY = "parcel_id, profile, departement_code"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE parcel_score DROP CONSTRAINT parcel_score_pkey, "
        f"ADD CONSTRAINT parcel_score_pkey PRIMARY KEY ({_KEY}) INCLUDE (score, excluded)"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE parcel_score DROP CONSTRAINT parcel_score_pkey, "
        f"ADD CONSTRAINT parcel_score_pkey PRIMARY KEY ({_KEY})"
    )
