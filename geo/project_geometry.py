"""A project's outline as a client sends it: strict GeoJSON, checked in Python first.

What is checked here, before PostGIS sees a single coordinate, with a readable reason:
- the shape (RFC 7946 §3.1.6-3.1.7): a ``Polygon`` or ``MultiPolygon``, nothing else, no
  foreign member (``crs`` included: positions are WGS84 whatever it says); positions of
  exactly two finite numbers, ``[longitude, latitude]`` in WGS84 degrees (an altitude is
  refused rather than silently dropped: the ledger counts land); linear rings of four
  positions or more that end where they start;
- the extent: metropolitan France only. Lambert-93 (EPSG:2154), in which the ledger measures
  every area, is defined for the metropole only; an overseas département has its own
  official projection (5490 Antilles, 2972 Guyane, 2975 Réunion, 4471 Mayotte) and is refused
  with that reason until the ledger stores and measures in it (issue 13, point 7). A box
  elsewhere is a swapped longitude/latitude or projected metres.

PostGIS then checks what needs geometry (``geo.envelope``): validity (self-intersections,
holes outside their shell), the area bounds below, and that the project lies in its EPCI.
"""

from __future__ import annotations

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

from geo.crs import METRO_WGS84_BOUNDS, OVERSEAS_DEPARTEMENTS

# A project's area bounds, in hectares (Lambert-93). Below 0.01 ha (100 m²) it is a drawing
# error, not an industrial project (the ledger's precision is 0.0001 ha). Above 1,000 ha
# (a tenth of the national industrial envelope in one project) it is a territory drawn by
# mistake — a département, a France-wide rectangle — or an operation to record in parts.
MIN_AREA_HA = 0.01
MAX_AREA_HA = 1_000.0


class GeometryError(ValueError):
    """A project geometry that cannot be recorded (the message says why)."""

    status = 422


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
