"""The bbox filter: one meaning everywhere a request gives ``bbox=minLon,minLat,maxLon,maxLat``.

A feature is in the box when its geometry intersects it (OGC API Features, Part 1, §7.15.3),
not when its bounding box does. The box is densified before projection, so that its edges
stay close to the requested meridians and parallels once in Lambert-93.
"""

from __future__ import annotations

from geo.crs import LAMBERT93, WGS84

BBox = tuple[float, float, float, float]

# The box in Lambert-93, from the parameters :minx, :miny, :maxx, :maxy (WGS84).
BBOX_L93_SQL = (
    f"ST_Transform(ST_Segmentize(ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, {WGS84}), 0.01),"
    f" {LAMBERT93})"
)


def bbox_sql(geom: str) -> str:
    """SQL condition: the Lambert-93 geometry ``geom`` intersects the box. The ``&&`` first
    lets PostgreSQL use the GiST index; ST_Intersects then keeps the exact meaning."""
    return f"({geom}) && {BBOX_L93_SQL} AND ST_Intersects({geom}, {BBOX_L93_SQL})"


def bbox_params(bbox: BBox) -> dict[str, float]:
    """The parameters of BBOX_L93_SQL."""
    return dict(zip(("minx", "miny", "maxx", "maxy"), bbox, strict=True))
