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
