"""The database schema, declared once for SQLAlchemy queries and checked against the migrations.

Geometries are stored in Lambert-93 (EPSG:2154) so that areas and distances are
metres; natural keys (INSEE codes, SIREN, cadastre ids) are primary keys. Large
tables carry ``departement_code`` so that they can be partitioned or distributed by it.
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from geo.crs import LAMBERT93

metadata = MetaData()


def _multipolygon(nullable: bool = True) -> Column:
    # Spatial indexes are declared explicitly (below) so that the migration and
    # this module name them the same way.
    return Column(
        "geom",
        Geometry("MULTIPOLYGON", srid=LAMBERT93, spatial_index=False),
        nullable=nullable,
    )


region = Table(
    "region",
    metadata,
    Column("code", String(3), primary_key=True),
    Column("name", Text, nullable=False),
    _multipolygon(),
)

departement = Table(
    "departement",
    metadata,
    Column("code", String(3), primary_key=True),
    Column("name", Text, nullable=False),
    Column("region_code", String(3), ForeignKey("region.code"), nullable=False),
    _multipolygon(),
)

territoire_industrie = Table(
    "territoire_industrie",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("name", Text, nullable=False),
    Column("region_code", String(3), ForeignKey("region.code"), nullable=False),
)

epci = Table(
    "epci",
    metadata,
    Column("siren", String(9), primary_key=True),
    Column("name", Text, nullable=False),
    Column("type", String(8), nullable=False),
    Column("population", Integer),
    # An EPCI belongs to at most one Territoire d'industrie.
    Column("territoire_industrie_id", String(20), ForeignKey("territoire_industrie.id")),
    CheckConstraint("siren ~ '^[0-9]{9}$'", name="epci_siren_format"),
)

commune = Table(
    "commune",
    metadata,
    Column("insee", String(5), primary_key=True),
    Column("name", Text, nullable=False),
    # 'commune-actuelle' or 'arrondissement-municipal' (Paris, Lyon, Marseille:
    # the cadastre numbers their parcels by arrondissement).
    Column("kind", String(24), nullable=False),
    Column("parent_insee", String(5), ForeignKey("commune.insee")),
    Column("departement_code", String(3), ForeignKey("departement.code"), nullable=False),
    Column("region_code", String(3), ForeignKey("region.code"), nullable=False),
    Column("epci_siren", String(9), ForeignKey("epci.siren")),
    Column("siren", String(9)),
    Column("population", Integer),
    _multipolygon(),
    CheckConstraint("insee ~ '^[0-9][0-9AB][0-9]{3}$'", name="commune_insee_format"),
)
Index("commune_epci_siren_idx", commune.c.epci_siren)
Index("commune_departement_code_idx", commune.c.departement_code)

# Communes merge every year: an old code found in a source is mapped to its
# current commune through this table instead of being silently dropped.
commune_former_code = Table(
    "commune_former_code",
    metadata,
    Column("former_insee", String(5), primary_key=True),
    Column("insee", String(5), ForeignKey("commune.insee"), primary_key=True),
)

parcel = Table(
    "parcel",
    metadata,
    Column("id", String(14), primary_key=True),
    Column("departement_code", String(3), nullable=False),
    # Not a foreign key: the cadastre vintage may name communes that have since
    # merged; the loader reports them instead of rejecting the parcels.
    Column("commune_insee", String(5), nullable=False),
    Column("prefixe", String(3), nullable=False),
    Column("section", String(2), nullable=False),
    Column("numero", String(4), nullable=False),
    Column("contenance", Integer),
    Column("area_m2", Float, nullable=False),
    Column("created", Date),
    Column("updated", Date),
    Column(
        "geom",
        Geometry("MULTIPOLYGON", srid=LAMBERT93, spatial_index=False),
        nullable=False,
    ),
    CheckConstraint(
        # Cheap enough for bulk COPY (a regex here costs more than the row itself);
        # the loaders check the format of each part.
        "id = commune_insee || prefixe || section || numero AND char_length(id) = 14",
        name="parcel_id_parts",
    ),
)
Index("parcel_commune_insee_idx", parcel.c.commune_insee)

import_run = Table(
    "import_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("source", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("summary", JSONB, nullable=False),
)

for _table in (region, departement, commune, parcel):
    Index(f"{_table.name}_geom_idx", _table.c.geom, postgresql_using="gist")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic filter: compare only our tables (not PostGIS' spatial_ref_sys, topology…)."""
    from geoalchemy2 import alembic_helpers

    if type_ == "table" and name not in metadata.tables:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)
