"""A project's outline as a client sends it, checked, then located in its EPCI.

What is checked here, before PostGIS sees a single coordinate, with a readable reason:
- the shape (RFC 7946 §3.1.6-3.1.7): a ``Polygon`` or ``MultiPolygon``, nothing else, no
  foreign member (``crs`` included: positions are WGS84 whatever it says); positions of
  exactly two finite numbers, ``[longitude, latitude]`` in WGS84 degrees (an altitude is
  refused rather than silently dropped: the ledger counts land); linear rings of four
  positions or more that end where they start;
- the extent: metropolitan France only. Lambert-93 (EPSG:2154), in which the ledger measures
  every area, is defined for the metropole only; an overseas département has its own
  official projection (5490 Antilles, 2972 Guyane, 2975 Réunion, 4471 Mayotte) and is refused
  with that reason until the ledger stores and measures in it. A box
  elsewhere is a swapped longitude/latitude or projected metres.

PostGIS then checks what needs geometry (:func:`locate`): validity (self-intersections,
holes outside their shell), the area bounds below, and that the project lies in its EPCI —
or, for a project given by its cadastre parcels, that they exist and lie in its EPCI.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
)
from sqlalchemy import Connection, text

from geo.access import OutsideTerritory
from geo.crs import LAMBERT93, METRO_WGS84_BOUNDS, OVERSEAS_DEPARTEMENTS, WGS84
from geo.errors import Invalid

# A project's area bounds, in hectares (Lambert-93). Below 0.01 ha (100 m²) it is a drawing
# error, not an industrial project (the ledger's precision is 0.0001 ha). Above 1,000 ha
# (a tenth of the national industrial envelope in one project) it is a territory drawn by
# mistake — a département, a France-wide rectangle — or an operation to record in parts.
MIN_AREA_HA = 0.01
MAX_AREA_HA = 1_000.0


class GeometryError(Invalid):
    """A project geometry that cannot be recorded (the message says why)."""


Longitude = Annotated[
    float,
    Strict(),
    Field(ge=-180, le=180, allow_inf_nan=False, description="WGS84 longitude, degrees"),
]
Latitude = Annotated[
    float,
    Strict(),
    Field(ge=-90, le=90, allow_inf_nan=False, description="WGS84 latitude, degrees"),
]
Position = tuple[Longitude, Latitude]


def _closed(ring: list[Position]) -> list[Position]:
    if ring[0] != ring[-1]:
        raise ValueError("a linear ring must end on the position it starts from")
    return ring


LinearRing = Annotated[list[Position], Field(min_length=4), AfterValidator(_closed)]
PolygonCoordinates = Annotated[
    list[LinearRing],
    Field(min_length=1, description="The exterior ring, then the holes"),
]


class _Geometry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # RFC 7946 §5: a bounding box may come along; it is not trusted nor kept.
    bbox: Annotated[list[Longitude | Latitude], Field(min_length=4, max_length=4)] | None = None

    def polygons(self) -> list[list[list[Position]]]:
        raise NotImplementedError

    def rings(self) -> list[list[Position]]:
        return [ring for polygon in self.polygons() for ring in polygon]

    def vertex_count(self) -> int:
        return sum(len(ring) for ring in self.rings())

    def bounds(self) -> tuple[float, float, float, float]:
        lons = [lon for ring in self.rings() for lon, _ in ring]
        lats = [lat for ring in self.rings() for _, lat in ring]
        return min(lons), min(lats), max(lons), max(lats)

    def geojson(self) -> str:
        return self.model_dump_json(exclude={"bbox"})


class Polygon(_Geometry):
    """A GeoJSON Polygon in WGS84 longitude/latitude."""

    type: Literal["Polygon"]
    coordinates: PolygonCoordinates

    def polygons(self) -> list[list[list[Position]]]:
        return [self.coordinates]


class MultiPolygon(_Geometry):
    """A GeoJSON MultiPolygon in WGS84 longitude/latitude."""

    type: Literal["MultiPolygon"]
    coordinates: Annotated[list[PolygonCoordinates], Field(min_length=1)]

    def polygons(self) -> list[list[list[Position]]]:
        return self.coordinates


ProjectGeometry = Annotated[
    Polygon | MultiPolygon,
    Field(
        discriminator="type",
        description=(
            "GeoJSON Polygon or MultiPolygon, WGS84 [longitude, latitude], in metropolitan "
            f"France, {MIN_AREA_HA:g} to {MAX_AREA_HA:,.0f} ha, inside the EPCI it is "
            "recorded for"
        ),
    ),
]
_ADAPTER: TypeAdapter[Polygon | MultiPolygon] = TypeAdapter(ProjectGeometry)


def parse_geometry(value: Any) -> Polygon | MultiPolygon:
    """The geometry checked for shape, or GeometryError with every reason found."""
    if isinstance(value, Polygon | MultiPolygon):
        return value
    try:
        return _ADAPTER.validate_python(value)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'geometry'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise GeometryError(f"invalid project geometry: {reasons}") from None


def check_extent(geometry: Polygon | MultiPolygon) -> None:
    """Refuse a geometry outside metropolitan France, naming where it seems to be."""
    west, south, east, north = geometry.bounds()
    x0, y0, x1, y1 = METRO_WGS84_BOUNDS
    if x0 <= west and east <= x1 and y0 <= south and north <= y1:
        return
    for code, (name, epsg, (a0, b0, a1, b1)) in OVERSEAS_DEPARTEMENTS.items():
        if a0 <= east and west <= a1 and b0 <= north and south <= b1:
            raise GeometryError(
                f"the project lies in {name} ({code}), whose official projection is "
                f"EPSG:{epsg}; the ledger measures areas in Lambert-93 (EPSG:2154), which is "
                "defined for metropolitan France only, so overseas projects cannot be "
                "recorded yet"
            )
    raise GeometryError(
        f"the project's extent (longitude {west:g} to {east:g}, latitude {south:g} to "
        f"{north:g}) is not in metropolitan France: GeoJSON positions are [longitude, "
        "latitude] in WGS84 degrees (swapped, or projected metres?)"
    )


# -- where it lies (PostGIS) -----------------------------------------------------------------

# Simplified boundaries (the demo's 2018 contours) leave parcels overhanging their EPCI by up
# to 38 m; a drawn project may stick out of its EPCI by this much, no more.
BOUNDARY_TOLERANCE_M = 50.0
MAX_PARCELS = 1_000


@dataclass(frozen=True)
class Location:
    """A project's outline (Lambert-93 EWKB, hex) and the communes it lies in, as
    (insee, departement, region), the main one first."""

    geom: str
    communes: list[tuple[str, str, str]]


def locate(
    conn: Connection,
    epci_siren: str,
    *,
    geometry: Any = None,
    parcel_ids: list[str] | None = None,
) -> Location:
    """Check a project's outline, given as GeoJSON or as cadastre parcels, and that it lies
    in the EPCI ``epci_siren``: GeometryError (invalid) for what cannot be a project outline,
    OutsideTerritory (denied) for an outline elsewhere."""
    if parcel_ids:
        geom = _from_parcels(conn, parcel_ids, epci_siren)
        rows = conn.execute(text(_PARCEL_COMMUNES), {"ids": parcel_ids}).all()
    else:
        geom = _from_geojson(conn, geometry, epci_siren)
        rows = conn.execute(text(_LOCATE), {"geom": geom}).all()
    return Location(geom, [tuple(row) for row in rows])


# The communes a drawn project touches, the one it overlaps most first.
_LOCATE = """
WITH p AS (SELECT CAST(:geom AS geometry) AS geom)
SELECT c.insee, c.departement_code, c.region_code
FROM commune c, p
WHERE c.geom && p.geom AND ST_Intersects(c.geom, p.geom)
  AND ST_Area(ST_Intersection(c.geom, p.geom)) > 0
ORDER BY ST_Area(ST_Intersection(c.geom, p.geom)) DESC, c.insee
"""

# The communes of a project's parcels, the one holding most of its area first: the cadastre
# names them, wherever the boundaries are loaded or not.
_PARCEL_COMMUNES = """
SELECT c.insee, c.departement_code, c.region_code
FROM parcel p JOIN commune c ON c.insee = p.commune_insee
WHERE p.id = ANY(:ids)
GROUP BY c.insee, c.departement_code, c.region_code
ORDER BY sum(p.area_m2) DESC, c.insee
"""

# Whether a drawn project lies in an EPCI: every point of it within the tolerance of the
# EPCI's boundary. The boundary is clipped to the project's surroundings first, so that the
# buffer costs the same for a small EPCI and a métropole.
_INSIDE_EPCI = """
WITH p AS (SELECT CAST(:geom AS geometry) AS geom)
SELECT o.geom IS NOT NULL, coalesce(o.geometry_complete, false),
       coalesce(ST_Covers(
           ST_Buffer(ST_ClipByBox2D(o.geom, ST_Expand(ST_Envelope(p.geom), 4 * :tol)), :tol),
           p.geom), false),
       coalesce(ST_Area(ST_Intersection(o.geom, p.geom)) / ST_Area(p.geom), 0)
FROM p LEFT JOIN epci_outline o ON o.siren = :epci
"""


def _from_parcels(conn: Connection, parcel_ids: list[str], epci_siren: str) -> str:
    if len(parcel_ids) > MAX_PARCELS:
        raise GeometryError(f"{len(parcel_ids)} parcel ids: at most {MAX_PARCELS} a project")
    twice = sorted(pid for pid, n in Counter(parcel_ids).items() if n > 1)
    if twice:
        raise GeometryError(f"parcel id(s) given more than once: {', '.join(twice[:10])}")
    rows = conn.execute(
        text(
            """SELECT p.id, c.epci_siren FROM parcel p
               LEFT JOIN commune c ON c.insee = p.commune_insee WHERE p.id = ANY(:ids)"""
        ),
        {"ids": parcel_ids},
    ).all()
    missing = sorted(set(parcel_ids) - {row[0] for row in rows})
    if missing:
        raise GeometryError(f"unknown parcel id(s): {', '.join(missing[:10])}")
    elsewhere = sorted(f"{pid} (EPCI {epci or 'none'})" for pid, epci in rows if epci != epci_siren)
    if elsewhere:
        raise OutsideTerritory(
            f"parcel(s) outside EPCI {epci_siren}: {', '.join(elsewhere[:10])}; a project is "
            "recorded for the EPCI it lies in"
        )
    ewkb = conn.execute(
        text("SELECT ST_AsEWKB(ST_Multi(ST_Union(geom))) FROM parcel WHERE id = ANY(:ids)"),
        {"ids": parcel_ids},
    ).scalar_one()
    return bytes(ewkb).hex()


def _from_geojson(conn: Connection, value: Any, epci_siren: str) -> str:
    """The checked geometry in Lambert-93 EWKB (hex): shape and extent in Python, validity,
    area and location in PostGIS, each refused with its reason."""
    geometry = parse_geometry(value)
    check_extent(geometry)
    valid, reason, area_ha, ewkb = conn.execute(
        text(
            f"""SELECT ST_IsValid(g), ST_IsValidReason(g),
                       ST_Area(ST_Transform(g, {LAMBERT93})) / 10000,
                       ST_AsEWKB(ST_Multi(ST_Transform(g, {LAMBERT93})))
                FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:g), {WGS84}) AS g) s"""
        ),
        {"g": geometry.geojson()},
    ).one()
    if not valid:
        raise GeometryError(f"invalid project geometry: {reason}")
    if not MIN_AREA_HA <= area_ha <= MAX_AREA_HA:
        raise GeometryError(
            f"the project covers {area_ha:,.4f} ha: a project is {MIN_AREA_HA:g} to "
            f"{MAX_AREA_HA:,.0f} ha (a larger operation is recorded in parts)"
        )
    geom = bytes(ewkb).hex()
    known, complete, inside, share = conn.execute(
        text(_INSIDE_EPCI), {"geom": geom, "epci": epci_siren, "tol": BOUNDARY_TOLERANCE_M}
    ).one()
    if inside:
        return geom
    if not known or not complete:
        raise GeometryError(
            f"the boundaries of EPCI {epci_siren}'s communes are not all loaded, so a drawn "
            "project cannot be located in it: record it by its parcel ids"
        )
    raise OutsideTerritory(
        f"the project lies outside EPCI {epci_siren} ({share:.0%} of its area inside, "
        f"{BOUNDARY_TOLERANCE_M:g} m of tolerance at the boundary); a project is recorded for "
        "the EPCI it lies in"
    )
