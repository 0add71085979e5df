"""The coordinate reference systems the OGC routes speak (OGC API - Features, Part 2).

Geometries are stored in Lambert-93 and transformed by PostGIS, never in Python. A CRS is
named by its OGC URI; EPSG:4326 is latitude first (its EPSG axis order), CRS84 longitude
first, as GeoJSON. Each CRS says where its coordinates make sense, so that a box or a
geometry in it is checked before PostGIS is asked to project it.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.crs import LAMBERT93, WGS84


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int
    # EPSG:4326 lists latitude before longitude: coordinates are flipped on the way in and out
    lat_first: bool
    # decimals of the coordinates written (6 for degrees: ~0.1 m; 2 for metres: 1 cm)
    decimals: int
    # the valid (x, y) ranges in the CRS's own axis order, as (min0, min1, max0, max1)
    bounds: tuple[float, float, float, float]
    # bbox sides above this (in the CRS's unit) cover more than a request may ask for,
    # per degree of the settings' max_bbox_degrees
    units_per_degree: float
    # densify a box's edges every `segment` units before projecting it into Lambert-93
    segment: float

    @property
    def geographic(self) -> bool:
        return self.srid == WGS84


CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"

# Lambert-93 is a conic projection centred on France: the south pole has no image in it
# (PostGIS: "Point outside of projection domain"), so geographic coordinates given to be
# projected into it stay north of 80°S (nothing stored lies south of that).
MIN_LATITUDE = -80.0

CRSS: dict[str, Crs] = {
    c.uri: c
    for c in (
        Crs(CRS84, WGS84, False, 6, (-180, MIN_LATITUDE, 180, 90), 1, 0.01),
        Crs(f"{EPSG}4326", WGS84, True, 6, (MIN_LATITUDE, -180, 90, 180), 1, 0.01),
        # Lambert-93's area of use (metropolitan France) with a margin, in metres
        Crs(f"{EPSG}{LAMBERT93}", LAMBERT93, False, 2, (-400e3, 5.9e6, 1.4e6, 7.3e6), 111e3, 1e3),
        # Web Mercator up to ±85.06° (the square world)
        Crs(f"{EPSG}3857", 3857, False, 2, (-20037508.35,) * 2 + (20037508.35,) * 2, 111e3, 1e3),
    )
}
DEFAULT = CRSS[CRS84]
# Where geometries are stored (storageCrs of every collection).
STORAGE = CRSS[f"{EPSG}{LAMBERT93}"]


def crs_by_uri(uri: str) -> Crs | None:
    """The CRS a parameter names (its URI, or its safe CURIE ``[EPSG:2154]``), or None."""
    uri = uri.strip()
    if uri.startswith("[") and uri.endswith("]"):
        authority, _, code = uri[1:-1].partition(":")
        if authority == "OGC":
            uri = CRS84 if code == "CRS84" else ""
        elif authority == "EPSG":
            uri = f"{EPSG}{code}"
        else:
            return None
    return CRSS.get(uri)


def xy(crs: Crs, a: float, b: float) -> tuple[float, float]:
    """A coordinate pair in the CRS's axis order as (x, y): easting/longitude first."""
    return (b, a) if crs.lat_first else (a, b)


def to_lambert93_sql(crs: Crs, geometry_sql: str) -> str:
    """SQL: ``geometry_sql`` (in ``crs``, SRID not set, x/y order) as a Lambert-93 geometry."""
    if crs.srid == LAMBERT93:
        return f"ST_SetSRID({geometry_sql}, {LAMBERT93})"
    return f"ST_Transform(ST_SetSRID({geometry_sql}, {crs.srid}), {LAMBERT93})"
