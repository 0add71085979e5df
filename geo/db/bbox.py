"""The bbox filter: one meaning everywhere a request gives ``bbox=minx,miny,maxx,maxy``.

A feature is in the box when its geometry intersects it (OGC API Features, Part 1, §7.15.3),
not when its bounding box does. The box is densified before projection, so that its edges
stay close to the requested meridians and parallels (or grid lines) once in Lambert-93.
The box is WGS84 longitude/latitude unless another CRS is given (OGC API Features, Part 2,
``bbox-crs``): its SRID and densification step are then written into the SQL, the four
numbers stay bound parameters.
"""

from __future__ import annotations

from geo.crs import LAMBERT93, WGS84

BBox = tuple[float, float, float, float]


def bbox_l93_sql(srid: int = WGS84, segment: float = 0.01) -> str:
    """The box in Lambert-93, from the parameters :minx, :miny, :maxx, :maxy (in ``srid``,
    easting or longitude first), its edges densified every ``segment`` units."""
    if srid == LAMBERT93:
        return f"ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, {LAMBERT93})"
    return (
        f"ST_Transform(ST_Segmentize(ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, {int(srid)}), "
        f"{float(segment)}), {LAMBERT93})"
    )


def bbox_sql(geom: str, srid: int = WGS84, segment: float = 0.01) -> str:
    """SQL condition: the Lambert-93 geometry ``geom`` intersects the box. The ``&&`` first
    lets PostgreSQL use the GiST index; ST_Intersects then keeps the exact meaning."""
    box = bbox_l93_sql(srid, segment)
    return f"({geom}) && {box} AND ST_Intersects({geom}, {box})"


def bbox_params(bbox: BBox) -> dict[str, float]:
    """The parameters of bbox_l93_sql (x/y order)."""
    return dict(zip(("minx", "miny", "maxx", "maxy"), bbox, strict=True))
