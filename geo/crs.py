"""Coordinate reference systems and the extents used to sanity-check inputs."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# Lambert-93: every stored geometry and every computed area (metres, m², ha).
LAMBERT93 = 2154
# RFC 7946 GeoJSON is WGS84 longitude/latitude.
WGS84 = 4326

# Metropolitan France (with Corsica) in Lambert-93 metres (EPSG:2154 area of use, with a
# margin). Projected coordinates outside it come from another CRS than the one declared,
# or from swapped longitude and latitude.
METRO_LAMBERT93_BOUNDS = (0.0, 6000000.0, 1300000.0, 7200000.0)

# GeoJSON coordinates are written with 6 decimals (~0.1 m), enough for cadastre.
GEOJSON_DECIMALS = 6


def departement_of(insee: str) -> str:
    """Département of a commune INSEE code: '08105' -> '08', '2A004' -> '2A', '97105' -> '971'.

    Overseas départements and collectivités (97x, 98x) have 3-character codes.
    """
    return insee[:3] if insee.startswith(("97", "98")) else insee[:2]


def departement_codes(insee: pa.Array) -> pa.Array:
    """Vectorised :func:`departement_of` over an Arrow string array."""
    overseas = pc.match_substring_regex(insee, "^9[78]")
    return pc.if_else(
        overseas, pc.utf8_slice_codeunits(insee, 0, 3), pc.utf8_slice_codeunits(insee, 0, 2)
    )


# Metropolitan France with Corsica in WGS84 longitude/latitude (Ouessant to the Rhine, Corsica
# to Dunkirk, with a margin): a GeoJSON input outside it is overseas, swapped or foreign.
METRO_WGS84_BOUNDS = (-5.9, 41.2, 10.0, 51.3)

# The overseas départements, their official projected CRS (décret n° 2000-1276 as amended,
# the national coordinate reference system) and their extent in WGS84 longitude/latitude,
# with a margin. Lambert-93 is defined for the metropole only.
OVERSEAS_DEPARTEMENTS: dict[str, tuple[str, int, tuple[float, float, float, float]]] = {
    "971": ("Guadeloupe", 5490, (-61.9, 15.8, -60.9, 16.6)),
    "972": ("Martinique", 5490, (-61.3, 14.35, -60.75, 14.95)),
    "973": ("Guyane", 2972, (-54.7, 2.0, -51.5, 5.9)),
    "974": ("La Réunion", 2975, (55.1, -21.5, 55.9, -20.8)),
    "976": ("Mayotte", 4471, (44.9, -13.1, 45.4, -12.5)),
}
