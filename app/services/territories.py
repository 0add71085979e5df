"""Communes and EPCI as GeoJSON features."""

from __future__ import annotations

from sqlalchemy import Connection, text

from geo.db.geojson import feature_sql

_COMMUNE_FEATURE = f"""
SELECT {
    feature_sql(
        "c.insee",
        "c.geom",
        '''json_build_object(
    'insee', c.insee, 'name', c.name, 'kind', c.kind, 'parent_insee', c.parent_insee,
    'departement_code', c.departement_code, 'departement', d.name,
    'region_code', c.region_code, 'region', r.name,
    'epci_siren', c.epci_siren, 'epci', e.name,
    'siren', c.siren, 'population', c.population,
    'territoires_industrie', (SELECT coalesce(json_agg(m.territoire_industrie_id
                                  ORDER BY m.territoire_industrie_id), '[]'::json)
                              FROM territoire_industrie_commune m WHERE m.insee = c.insee),
    'area_ha', round((ST_Area(c.geom) / 10000)::numeric, 2),
    'parcel_count', (SELECT count(*) FROM parcel p
                     WHERE p.departement_code = c.departement_code
                       AND p.commune_insee = c.insee))''',
    )
}::text
FROM commune c
JOIN departement d ON d.code = c.departement_code
JOIN region r ON r.code = c.region_code
LEFT JOIN epci e ON e.siren = c.epci_siren
WHERE c.insee = :insee
"""

# The EPCI outline is the union of its members' boundaries, when they are known
# (geometry_complete says whether every member had one).
_EPCI_FEATURE = f"""
WITH members AS (
    SELECT insee, name, population, geom FROM commune WHERE epci_siren = :siren
)
SELECT {
    feature_sql(
        "e.siren",
        "(SELECT ST_Multi(ST_Union(geom)) FROM members)",
        '''json_build_object(
    'siren', e.siren, 'name', e.name, 'type', e.type, 'population', e.population,
    'territoire_industrie_id', e.territoire_industrie_id,
    'member_count', (SELECT count(*) FROM members),
    'geometry_complete', (SELECT bool_and(geom IS NOT NULL) FROM members),
    'members', (SELECT coalesce(json_agg(json_build_object(
                    'insee', insee, 'name', name, 'population', population) ORDER BY insee),
                    '[]'::json) FROM members))''',
    )
}::text
FROM epci e
WHERE e.siren = :siren
"""


def commune_feature(conn: Connection, insee: str) -> str | None:
    return conn.execute(text(_COMMUNE_FEATURE), {"insee": insee}).scalar_one_or_none()


def epci_feature(conn: Connection, siren: str) -> str | None:
    return conn.execute(text(_EPCI_FEATURE), {"siren": siren}).scalar_one_or_none()
