"""Adjacent parcels, kept per commune for the candidate-site search

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-07

Written from geo/db/schema.py (tables ``parcel_adjacency`` and ``parcel_adjacency_commune``).
Testing which of an EPCI's 20,000-40,000 parcels share a boundary took seconds at every
site search; the pairs are computed once, by the score refresh, and read by the search.
Empty here: the next score refresh fills them.
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE parcel_adjacency (
               departement_code varchar(3) NOT NULL,
               a varchar(14) NOT NULL,
               b varchar(14) NOT NULL,
               commune_a varchar(5) NOT NULL,
               commune_b varchar(5) NOT NULL,
               CONSTRAINT parcel_adjacency_pkey PRIMARY KEY (departement_code, a, b),
               CONSTRAINT parcel_adjacency_ordered CHECK (a < b))"""
    )
    op.execute(
        "CREATE INDEX parcel_adjacency_commune_a_idx "
        "ON parcel_adjacency (departement_code, commune_a)"
    )
    op.execute(
        "CREATE INDEX parcel_adjacency_commune_b_idx "
        "ON parcel_adjacency (departement_code, commune_b)"
    )
    op.execute(
        """CREATE TABLE parcel_adjacency_commune (
               departement_code varchar(3) NOT NULL,
               commune_insee varchar(5) NOT NULL,
               computed_at timestamptz NOT NULL DEFAULT now(),
               CONSTRAINT parcel_adjacency_commune_pkey
                   PRIMARY KEY (departement_code, commune_insee))"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE parcel_adjacency_commune")
    op.execute("DROP TABLE parcel_adjacency")
