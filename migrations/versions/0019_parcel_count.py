"""The exact number of parcels of each département partition, kept by the cadastre loader

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-07

Written from geo/db/schema.py (table ``parcel_count``). OGC API clients (QGIS, GDAL) read
``numberMatched`` to size a layer; counting 90 million parcels per request is not
affordable, a sum over the partitions' counts is. The counts of the parcels already loaded
are taken once here.
"""

from alembic import op

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE parcel_count (
               departement_code varchar(3) PRIMARY KEY,
               parcels bigint NOT NULL)"""
    )
    op.execute(
        "INSERT INTO parcel_count (departement_code, parcels) "
        "SELECT departement_code, count(*) FROM parcel GROUP BY departement_code"
    )


def downgrade() -> None:
    op.execute("DROP TABLE parcel_count")
