"""The hectares a project draws: its area less its parts on friches and on land already
artificialised (those consume nothing: that is the point of reconversion), measured in
PostGIS in Lambert-93, and the one rounding of hectares to the ledger's precision.

Hectares are exact decimals with four places (``numeric(14,4)``, migration 0009): a measured
area is rounded once, by :func:`hectares`, and every sum after that is exact.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, text

from geo.crs import LAMBERT93
from geo.errors import Invalid

# The ledger's precision: hectares with four decimals (1 m²).
HECTARE_PLACES = Decimal("0.0001")


def hectares(value: float | int | str | Decimal) -> Decimal:
    """The one place where hectares are rounded: four decimals, half to even.

    Measured areas (floats from PostGIS) and corrections pass here once; everything the
    ledger adds up afterwards is exact.
    """
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise Invalid(f"{value!r} is not a number of hectares") from None
    if not number.is_finite():
        raise Invalid(f"{value!r} is not a finite number of hectares")
    # no negative zero: -0.00001 rounds to 0, not to -0
    return number.quantize(HECTARE_PLACES, rounding=ROUND_HALF_EVEN) + Decimal(0)


def ha_json(value: Decimal | float) -> float:
    """Hectares for a JSON answer."""
    return float(value)


# The NAF computation, all in Lambert-93 hectares, shown with every project.
_EMPTY = f"'SRID={LAMBERT93};POLYGON EMPTY'::geometry"
_NAF = f"""
WITH p AS (SELECT CAST(:geom AS geometry) AS geom),
friches AS (
    SELECT coalesce(ST_Union(ST_Intersection(f.geom, p.geom)), {_EMPTY}) AS g,
           coalesce(array_agg(f.site_id ORDER BY f.site_id), '{{}}') AS ids
    FROM friche f, p WHERE f.geom && p.geom AND ST_Intersects(f.geom, p.geom)
),
artificial AS (
    SELECT coalesce(ST_Union(ST_Intersection(a.geom, p.geom)), {_EMPTY}) AS g
    FROM artificialised_land a, p WHERE a.geom && p.geom AND ST_Intersects(a.geom, p.geom)
)
SELECT ST_Area(p.geom) / 10000 AS area_ha,
       ST_Area(friches.g) / 10000 AS on_friche_ha,
       friches.ids AS friche_ids,
       ST_Area(ST_Difference(artificial.g, friches.g)) / 10000 AS on_artificialised_ha,
       ST_Area(ST_Difference(p.geom, ST_Union(friches.g, artificial.g))) / 10000 AS naf_ha
FROM p, friches, artificial
"""


def naf_consumption(conn: Connection, geom: str) -> tuple[dict[str, Decimal], dict[str, Any]]:
    """The project's hectares (area, on friches, on artificialised land, NAF) and the
    computation as the project keeps it (docs/methode.md)."""
    naf = conn.execute(text(_NAF), {"geom": geom}).mappings().one()
    keys = ("area_ha", "on_friche_ha", "on_artificialised_ha", "naf_ha")
    measured = {key: hectares(naf[key]) for key in keys}
    computation = {
        "area_ha": ha_json(measured["area_ha"]),
        "on_friche_ha": ha_json(measured["on_friche_ha"]),
        "friche_ids": list(naf["friche_ids"]),
        "on_artificialised_ha": ha_json(measured["on_artificialised_ha"]),
        "naf_ha": ha_json(measured["naf_ha"]),
        "rule": "NAF = area − part on friches − part on already artificialised land (Lambert-93)",
    }
    return measured, computation
