"""A generation number per commune, bumped by every write that changes what its tiles show

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07

Written from geo/db/schema.py (table ``tile_generation``). A cached tile is keyed by the sum
of the generations of the communes whose extent meets it (geo.db.tile_generation): a write
bumps its communes in its own transaction, so every process sees a new key for exactly the
tiles over them, at every zoom, and never serves a tile made before the write. The extents
of the data already loaded are taken once here.
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE tile_generation (
               commune_insee varchar(5) PRIMARY KEY,
               generation bigint NOT NULL,
               extent geometry(Geometry, 2154) NOT NULL)"""
    )
    op.execute("CREATE INDEX tile_generation_extent_idx ON tile_generation USING gist (extent)")
    op.execute(
        """INSERT INTO tile_generation (commune_insee, generation, extent)
           SELECT commune_insee, 1, ST_Envelope(ST_Collect(extent)) FROM (
               SELECT commune_insee, ST_SetSRID(ST_Extent(geom)::geometry, 2154) AS extent
               FROM parcel GROUP BY commune_insee
               UNION ALL
               SELECT coalesce(commune_insee, ''), ST_SetSRID(ST_Extent(geom)::geometry, 2154)
               FROM project GROUP BY 1
           ) e WHERE extent IS NOT NULL GROUP BY commune_insee"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE tile_generation")
