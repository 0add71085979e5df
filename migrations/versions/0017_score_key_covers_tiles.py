"""The score table's key carries the score and the exclusion, so that tiles and OGC items
read a parcel's score from the key alone; its search indexes carry the exclusion and the
area, so that a search's count reads them alone (issue 17)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

Written from geo/db/schema.py (table ``parcel_score``). A tile of the densest z14 area joins
2,325 parcels to their score: one key probe each, then one heap fetch each, a third of the
tile's time (bench/README.md). With the two columns in the key's leaves, an all-visible
page needs no heap fetch. A search counts its matches up to 10,000 (geo.db.count) through
the territory's score index, then read every row's exclusion from the table: 97 ms for an
EPCI of 312,182 parcels at 10 M, 3.8 ms from the index alone. The indexes' keys, their
columns and order, are unchanged.
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_KEY = "parcel_id, profile, departement_code"


_SEARCHES = {"commune": "commune_insee", "epci": "epci_siren", "departement": "departement_code"}


def _search_indexes(include: str) -> None:
    for name, column in _SEARCHES.items():
        op.execute(f"DROP INDEX parcel_score_{name}_idx")
        op.execute(
            f"CREATE INDEX parcel_score_{name}_idx ON parcel_score "
            f"(profile, {column}, score DESC NULLS LAST){include}"
        )


def upgrade() -> None:
    op.execute(
        "ALTER TABLE parcel_score DROP CONSTRAINT parcel_score_pkey, "
        f"ADD CONSTRAINT parcel_score_pkey PRIMARY KEY ({_KEY}) INCLUDE (score, excluded)"
    )
    _search_indexes(" INCLUDE (excluded, area_ha)")


def downgrade() -> None:
    _search_indexes("")
    op.execute(
        "ALTER TABLE parcel_score DROP CONSTRAINT parcel_score_pkey, "
        f"ADD CONSTRAINT parcel_score_pkey PRIMARY KEY ({_KEY})"
    )
