"""Dissolved outlines of EPCI and Territoires d'industrie (materialized views)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

Written by hand: autogenerate does not see views. Refreshed by geo.db.outlines.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # geometry_complete: whether every member commune had a boundary to dissolve.
    op.execute(
        """
        CREATE MATERIALIZED VIEW epci_outline AS
        SELECT c.epci_siren AS siren,
               ST_Multi(ST_Union(c.geom))::geometry(MultiPolygon, 2154) AS geom,
               bool_and(c.geom IS NOT NULL) AS geometry_complete
        FROM commune c
        WHERE c.epci_siren IS NOT NULL AND c.kind = 'commune-actuelle'
        GROUP BY c.epci_siren
        """
    )
    op.execute("CREATE UNIQUE INDEX epci_outline_siren_idx ON epci_outline (siren)")
    op.execute("CREATE INDEX epci_outline_geom_idx ON epci_outline USING gist (geom)")
    op.execute(
        """
        CREATE MATERIALIZED VIEW territoire_industrie_outline AS
        SELECT e.territoire_industrie_id AS id,
               ST_Multi(ST_Union(o.geom))::geometry(MultiPolygon, 2154) AS geom,
               bool_and(o.geometry_complete) AS geometry_complete
        FROM epci e JOIN epci_outline o ON o.siren = e.siren
        WHERE e.territoire_industrie_id IS NOT NULL
        GROUP BY e.territoire_industrie_id
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX territoire_industrie_outline_id_idx "
        "ON territoire_industrie_outline (id)"
    )
    op.execute(
        "CREATE INDEX territoire_industrie_outline_geom_idx "
        "ON territoire_industrie_outline USING gist (geom)"
    )


def downgrade() -> None:
    op.execute("DROP MATERIALIZED VIEW territoire_industrie_outline")
    op.execute("DROP MATERIALIZED VIEW epci_outline")
