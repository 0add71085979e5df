"""What stands on a parcel: its buildings, and the land-use state the ranking reads.

Sources (loaded by geo.ingest.buildings):

- Etalab cadastre ``batiments`` (DGFiP PCI vector, cadastre.data.gouv.fr): footprints with
  ``type`` 01 "bâti dur" (hard) or 02 "bâti léger" (light: sheds, lean-tos, greenhouses);
- IGN BD TOPO ``BATIMENT``: footprints with ``LEGER`` (Oui/Non) and ``USAGE1`` (Résidentiel,
  Industriel, Agricole, Commercial et services…), kept as ``usage``.

Per parcel the score refresh (geo.scoring.refresh) counts, in PostGIS, the buildings whose
point on surface (stored at import, ``building.geom_point``) lies on the parcel, and sums
their footprints. A building drawn across a boundary thus counts once, wholly, on the parcel
under its point on surface (nearly always the one holding most of it): a point-in-polygon
test per building instead of a polygon intersection, which keeps the refresh of a million
parcels within its minute (bench/README.md). The built share is capped at 1.

Land-use state, for a profile's threshold ``t`` (``underused_built_share`` in the scoring
profile, default ``DEFAULT_UNDERUSED_SHARE``):

- ``vacant``: no building on the parcel;
- ``underused``: built share (footprint / parcel area) under ``t``, or only light buildings;
- ``built``: anything else.

Unknown (no criterion, never guessed) where no building layer covers the parcel's commune.

The per-parcel counts are kept in ``parcel_building`` (:func:`count_parcel_buildings`),
recomputed for a commune whenever its buildings or its parcels are imported, as the
raster statistics are: the score refresh then joins them (one hash join) instead of
searching the buildings of every parcel again (25 µs a parcel, bench/README.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from geo.crs import departement_of

STATES = ("vacant", "underused", "built")
DEFAULT_UNDERUSED_SHARE = 0.2

# BD TOPO USAGE1 values -> Foncier's building use
USAGES = {
    "Résidentiel": "residential",
    "Industriel": "industrial",
    "Agricole": "agricultural",
    "Commercial et services": "commercial",
    "Annexe": "annex",
    "Religieux": "religious",
    "Sportif": "sport",
    "Indifférencié": "undifferentiated",
    "Indifférenciée": "undifferentiated",
}
# Etalab cadastre ``type``
HARD, LIGHT = "01", "02"


def land_use_state(
    building_count: int | None,
    built_share: float | None,
    light_only: bool | None,
    threshold: float = DEFAULT_UNDERUSED_SHARE,
) -> str | None:
    """vacant / underused / built, or None when no building layer covers the parcel."""
    if building_count is None:
        return None
    if building_count == 0:
        return "vacant"
    if light_only or (built_share or 0.0) < threshold:
        return "underused"
    return "built"


def land_use_of(features: dict[str, Any], threshold: float) -> str | None:
    return land_use_state(
        features.get("building_count"),
        features.get("built_share"),
        features.get("light_only"),
        threshold,
    )


def land_use_sql(alias: str, threshold: float) -> str:
    """The same rule over a parcel_features row ``alias``."""
    t = float(threshold)
    return (
        f"(CASE WHEN {alias}.building_count IS NULL THEN NULL"
        f" WHEN {alias}.building_count = 0 THEN 'vacant'"
        f" WHEN {alias}.light_only OR coalesce({alias}.built_share, 0) < {t} THEN 'underused'"
        f" ELSE 'built' END)"
    )


# One source per commune of the parcel: the Etalab cadastre layer where loaded, else BD
# TOPO (the two draw the same buildings: adding them would count each twice). One probe of
# the buildings' point index per parcel (OFFSET 0 keeps it so: probing the parcels' index
# from each building cost 1.7 times as much).
_COUNT = """
INSERT INTO parcel_building (parcel_id, departement_code, commune_insee, building_count,
                             built_m2, light_only, building_use)
SELECT q.id, q.departement_code, q.commune_insee, count(*), sum(b.area_m2),
       bool_and(NOT b.hard),
       (array_agg(b.usage ORDER BY b.area_m2 DESC) FILTER (WHERE b.usage IS NOT NULL))[1]
FROM parcel q
CROSS JOIN LATERAL (
    SELECT b.area_m2, b.hard, b.usage FROM building b
    WHERE b.geom_point && q.geom AND ST_Intersects(q.geom, b.geom_point)
      AND b.source = CASE WHEN q.commune_insee = ANY(:cadastre_communes)
                          THEN 'cadastre' ELSE 'bdtopo' END
    OFFSET 0
) b
WHERE q.departement_code = ANY(:deps) AND q.commune_insee = ANY(:communes)
GROUP BY q.id, q.departement_code, q.commune_insee
"""


def count_parcel_buildings(conn: Connection, communes: list[str]) -> int:
    """Recompute the building statistics of every parcel of ``communes`` (in the caller's
    transaction); returns the number of parcels with a building. A parcel absent from
    ``parcel_building`` has none, where a building layer covers its commune."""
    if not communes:
        return 0
    params = {"communes": communes, "deps": sorted({departement_of(c) for c in communes})}
    params["cadastre_communes"] = list(
        conn.execute(
            text(
                "SELECT DISTINCT commune_insee FROM building "
                "WHERE commune_insee = ANY(:communes) AND source = 'cadastre'"
            ),
            params,
        ).scalars()
    )
    conn.execute(text("DELETE FROM parcel_building WHERE commune_insee = ANY(:communes)"), params)
    return conn.execute(text(_COUNT), params).rowcount
