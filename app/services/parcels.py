"""Cadastre parcels as GeoJSON features and paged collections."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo.crs import departement_of
from geo.db.bbox import bbox_params, bbox_sql
from geo.db.count import COUNT_BUDGET_MS, Matched, count_within, page_reach
from geo.db.geojson import feature_sql
from geo.db.partitions import KNOWN_PARCELS_SQL

_PROPERTIES = """json_build_object(
    'id', p.id, 'commune', p.commune_insee, 'departement', p.departement_code,
    'prefixe', p.prefixe, 'section', p.section, 'numero', p.numero,
    'contenance_m2', p.contenance,
    'area_m2', round(p.area_m2::numeric, 1),
    -- Computed area against the legal surface: a large gap is a data-quality flag.
    'area_gap_ratio', CASE WHEN p.contenance > 0
                           THEN round(((p.area_m2 - p.contenance) / p.contenance)::numeric, 4) END,
    'created', p.created, 'updated', p.updated)"""

_FEATURE = feature_sql("p.id", "p.geom", _PROPERTIES)
# Lineage of one parcel: the synced part of the cadastre source that brought its commune
# (`foncier sync`; null for files imported by hand, whose trace is import_run alone). The
# address without credentials, as geo.ingest.redact writes it (again for older rows).
_LINEAGE = """(SELECT json_build_object(
    'source', s.source_id, 'part', s.part,
    'url', regexp_replace(s.url, '([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\\s]*@', '\\1', 'g'),
    'vintage', s.vintage,
    'synced_at', s.last_success_at, 'import_run', s.import_run_id)
    FROM sources s WHERE s.source_id = 'cadastre-parcelles'
    AND s.part = 'commune:' || p.commune_insee)"""
_ONE_FEATURE = feature_sql("p.id", "p.geom", _PROPERTIES[:-1] + f", 'lineage', {_LINEAGE})")


@dataclass(frozen=True)
class ParcelFilter:
    commune: str | None = None
    bbox: tuple[float, float, float, float] | None = None

    def where(self) -> tuple[str, dict[str, object]]:
        clauses: list[str] = ["TRUE"]
        params: dict[str, object] = {}
        if self.commune:
            # The département lets PostgreSQL read one partition only.
            clauses.append("p.departement_code = :departement AND p.commune_insee = :commune")
            params.update(commune=self.commune, departement=departement_of(self.commune))
        if self.bbox:
            clauses.append(bbox_sql("p.geom"))
            params.update(bbox_params(self.bbox))
        return " AND ".join(clauses), params


def parcel_feature(conn: Connection, parcel_id: str) -> str | None:
    return conn.execute(
        text(
            f"SELECT {_ONE_FEATURE}::text FROM parcel p "
            "WHERE p.departement_code = :departement AND p.id = :id"
        ),
        {"id": parcel_id, "departement": departement_of(parcel_id[:5])},
    ).scalar_one_or_none()


def parcel_page(
    conn: Connection,
    where: ParcelFilter,
    limit: int,
    offset: int,
    count_budget_ms: int = COUNT_BUDGET_MS,
) -> tuple[str, Matched, int]:
    """(JSON array of features, number matched (geo.db.count), number returned), ordered by
    parcel id."""
    clause, params = where.where()
    matched = count_within(
        conn,
        f"FROM parcel p WHERE {clause}",
        params,
        count_budget_ms,
        reach=page_reach(offset, limit),
        known=KNOWN_PARCELS_SQL if where == ParcelFilter() else None,
    )
    features, returned = conn.execute(
        text(
            f"""SELECT coalesce(json_agg(f ORDER BY id)::text, '[]'), count(*)
                FROM (SELECT p.id, {_FEATURE} AS f FROM parcel p WHERE {clause}
                      ORDER BY p.id LIMIT :limit OFFSET :offset) page"""
        ),
        {**params, "limit": limit, "offset": offset},
    ).one()
    return features, matched, returned
