"""CQL2 filters (OGC API - Features, Part 3) translated to SQL over a collection's queryables.

A filter is parsed by app.services.cql2_parse into one CQL2-JSON tree whatever its
encoding. This module walks that tree: a property must be one of the collection's published
queryables (each names its own SQL expression and type), every literal becomes a bound
parameter checked against the queryable's type, and geometries are checked (shapely) before
PostGIS projects them into Lambert-93. No text of the request ever reaches the SQL; what is
not supported is refused with a message saying so.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import shapely
import shapely.errors
import shapely.geometry
import shapely.ops
from shapely.validation import explain_validity

from app.services.cql2_parse import FilterError, parse
from app.services.crs import STORAGE, Crs, to_lambert93_sql
from geo.crs import LAMBERT93, WGS84

MAX_IN_VALUES = 1000
MAX_DISTANCE_M = 100_000


@dataclass(frozen=True)
class Queryable:
    """A property a filter may name: its SQL expression and its JSON Schema type
    (string, number, integer, boolean, date, date-time or geometry)."""

    sql: str
    type: str = "string"


@dataclass
class SqlFilter:
    clause: str
    params: dict[str, Any] = field(default_factory=dict)


_COMPARISONS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SPATIAL = {
    "s_intersects": "ST_Intersects",
    "s_equals": "ST_Equals",
    "s_disjoint": "ST_Disjoint",
    "s_touches": "ST_Touches",
    "s_within": "ST_Within",
    "s_overlaps": "ST_Overlaps",
    "s_crosses": "ST_Crosses",
    "s_contains": "ST_Contains",
}
_GEOMETRY_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}
_DISTANCE_UNITS = {"meters": 1.0, "metres": 1.0, "m": 1.0, "kilometers": 1000.0, "km": 1000.0}
SUPPORTED = (
    "comparisons (= <> < <= > >=), LIKE, IN, BETWEEN, IS NULL, AND, OR, NOT, "
    f"{', '.join(s.upper() for s in _SPATIAL)}, S_DWITHIN(geometry, <geometry>, metres)"
)

# The CQL2 conformance classes (21-065r2) of what this service does not translate: a filter
# using one is refused with the class's name, which /conformance does not list.
CQL2_CONFORMANCE = "http://www.opengis.net/spec/cql2/1.0/conf/"
_ARITHMETIC = {"+", "-", "*", "/", "^", "%", "div"}
_CLASS_OF = {"casei": "case-insensitive-comparison", "accenti": "accent-insensitive-comparison"}


def _unclaimed(op: Any) -> FilterError:
    name = str(op)[:40]
    low = name.lower()
    if low in _CLASS_OF:
        cls = _CLASS_OF[low]
    elif low.startswith("t_") or low == "interval":
        cls = "temporal-functions"
    elif low.startswith("a_"):
        cls = "array-functions"
    elif low in _ARITHMETIC:
        cls = "arithmetic"
    else:
        cls = "functions"
    return FilterError(
        f"{name!r} is not supported: it belongs to the CQL2 conformance class {cls} "
        f"({CQL2_CONFORMANCE}{cls}), which this service does not claim; supported: {SUPPORTED}"
    )


# A literal's SQL type when no property gives it one (property-property: `1 = 1`).
_CASTS = {
    "string": "text",
    "number": "double precision",
    "boolean": "boolean",
    "date": "date",
    "date-time": "timestamptz",
}

# Where stored geometries can lie, in each filter CRS's x/y order: the area of Lambert-93
# (metropolitan France with a margin of 100 km or more, app.services.crs) and its envelope in
# longitude/latitude and in Web Mercator, rounded outward (the loaders keep overseas
# geometries out: Lambert-93 is defined for metropolitan France only). A literal geometry is
# clipped to it before PostGIS projects it: the parts outside can meet no feature (and the
# south pole has no image in Lambert-93), while a world-sized box densified and tested
# against every feature costs seconds.
_DOMAINS = {
    WGS84: shapely.box(-13.0, 39.0, 14.0, 53.0),
    LAMBERT93: shapely.box(*STORAGE.bounds),
    3857: shapely.box(-1_450_000.0, 4_720_000.0, 1_560_000.0, 6_990_000.0),
}
_SHAPELY = {
    "s_intersects": shapely.intersects,
    "s_equals": shapely.equals,
    "s_disjoint": shapely.disjoint,
    "s_touches": shapely.touches,
    "s_within": shapely.within,
    "s_overlaps": shapely.overlaps,
    "s_crosses": shapely.crosses,
    "s_contains": shapely.contains,
}


@dataclass(frozen=True)
class _Literal:
    """A literal geometry of a filter, in x/y order of the filter CRS; ``box`` when a BBOX."""

    shape: Any
    box: tuple[float, float, float, float] | None = None


class _Translator:
    def __init__(self, queryables: Mapping[str, Queryable], crs: Crs) -> None:
        self.queryables = queryables
        self.crs = crs
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"cql{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    # -- boolean expressions
    def boolean(self, node: Any) -> str:
        if isinstance(node, bool):
            return "TRUE" if node else "FALSE"
        if not isinstance(node, dict) or "op" not in node:
            raise FilterError(f"expected a condition, got {_show(node)}")
        op, args = str(node["op"]).lower(), node.get("args", [])
        if not isinstance(args, list):
            raise FilterError(f"{op}: its args must be a list")
        if op in ("and", "or"):
            if len(args) < 2:
                raise FilterError(f"{op.upper()} needs at least two conditions")
            return "(" + f" {op.upper()} ".join(self.boolean(a) for a in args) + ")"
        if op == "not":
            self.arity(op, args, 1)
            return f"(NOT {self.boolean(args[0])})"
        if op in _COMPARISONS:
            self.arity(op, args, 2)
            (left, right), _ = self.operands(op, args)
            return f"({left} {_COMPARISONS[op]} {right})"
        if op == "like":
            self.arity(op, args, 2)
            (left, right), kind = self.operands(op, args)
            if kind != "string":
                raise FilterError("LIKE compares strings only")
            pattern = args[1]
            if isinstance(pattern, str) and (len(pattern) - len(pattern.rstrip("\\"))) % 2:
                raise FilterError("a LIKE pattern must not end with the escape character \\")
            return f"({left} LIKE {right})"
        if op == "between":
            self.arity(op, args, 3)
            (value, low, high), kind = self.operands(op, args)
            if kind not in ("number", "integer", "date", "date-time"):
                raise FilterError("BETWEEN takes numbers or dates")
            return f"({value} BETWEEN {low} AND {high})"
        if op == "in":
            return self.in_list(args)
        if op == "isnull":
            self.arity(op, args, 1)
            arg = args[0]
            if isinstance(arg, dict) and "property" in arg:
                return f"({self.property(op, arg).sql} IS NULL)"
            if isinstance(arg, dict) and "op" in arg:
                raise _unclaimed(arg["op"])
            return "FALSE"  # a literal is never null
        if op in _SPATIAL:
            self.arity(op, args, 2)
            return self.spatial(op, args[0], args[1])
        if op == "s_dwithin":
            return self.dwithin(args)
        raise _unclaimed(node["op"])

    @staticmethod
    def arity(op: str, args: list, n: int) -> None:
        if len(args) != n:
            raise FilterError(f"{op.upper()} takes {n} argument(s), got {len(args)}")

    # -- scalar operands
    def property(self, op: str, node: Any) -> Queryable:
        if not (isinstance(node, dict) and set(node) == {"property"}):
            raise FilterError(f"{op.upper()}: expected a queryable property, got {_show(node)}")
        name = node["property"]
        queryable = self.queryables.get(name) if isinstance(name, str) else None
        if queryable is None:
            raise FilterError(
                f"{_show(name)} is not a queryable; the queryables are {', '.join(self.queryables)}"
            )
        return queryable

    def operands(self, op: str, nodes: list) -> tuple[list[str], str]:
        """The SQL of properties and literals compared together, and their common type.

        Properties give the type and the literals are checked against it; literals alone
        (property-property, `1 = 1`) take the type of the first one, cast in SQL."""
        for node in nodes:
            if isinstance(node, dict) and "op" in node:
                raise _unclaimed(node["op"])
        props = [
            self.property(op, n) if isinstance(n, dict) and "property" in n else None for n in nodes
        ]
        typed = [p for p in props if p is not None]
        for p in typed:
            if p.type == "geometry":
                raise FilterError("a geometry is compared with spatial functions (S_INTERSECTS…)")
            if _family(p.type) != _family(typed[0].type):
                raise FilterError(f"{op.upper()} compares a {typed[0].type} with a {p.type}")
        kind = typed[0].type if typed else _kind_of(op, nodes[0])
        sql = []
        for node, prop in zip(nodes, props, strict=True):
            if prop is not None:
                sql.append(prop.sql)
            elif typed:  # typed by the property it is compared with
                sql.append(self.bind(self.literal(op, node, kind)))
            else:
                sql.append(f"CAST({self.bind(self.literal(op, node, kind))} AS {_CASTS[kind]})")
        return sql, kind

    def in_list(self, args: list) -> str:
        self.arity("in", args, 2)
        values = args[1]
        if not isinstance(values, list) or not values:
            raise FilterError("IN needs a non-empty list of values")
        if len(values) > MAX_IN_VALUES:
            raise FilterError(f"IN lists hold at most {MAX_IN_VALUES} values")
        if any(isinstance(v, dict) and ("property" in v or "op" in v) for v in values):
            # property-property: `'91027' IN (commune, departement)`
            (left, *items), _ = self.operands("in", [args[0], *values])
            return f"({left} IN ({', '.join(items)}))"
        (left,), kind = self.operands("in", [args[0]])
        literals = [self.literal("in", v, kind) for v in values]
        return f"({left} = ANY({self.bind(literals)}))"

    def literal(self, op: str, value: Any, kind: str) -> Any:
        if kind == "string" and isinstance(value, str):
            return value
        if kind in ("number", "integer") and _finite(value):
            return float(value)
        if kind == "boolean" and isinstance(value, bool):
            return value
        if kind == "date" and isinstance(value, dict) and set(value) == {"date"}:
            try:
                return datetime.date.fromisoformat(str(value["date"]))
            except ValueError:
                raise FilterError(f"not a date: {_show(value['date'])}") from None
        if kind == "date-time" and isinstance(value, dict) and set(value) == {"timestamp"}:
            try:
                stamp = datetime.datetime.fromisoformat(str(value["timestamp"]))
            except ValueError:
                raise FilterError(f"not a timestamp: {_show(value['timestamp'])}") from None
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.UTC)
        raise FilterError(f"{op.upper()}: expected a {kind} value, got {_show(value)}")

    # -- spatial predicates
    def spatial(self, op: str, a: Any, b: Any) -> str:
        """A spatial predicate between the geometry and a literal (either order), between two
        properties, or between two literals (evaluated here, in the filter CRS's plane)."""
        a_prop, b_prop = _is_property(a), _is_property(b)
        if a_prop and b_prop:
            ga, gb = self.geometry_property(op, a), self.geometry_property(op, b)
            return _self_relation(op, ga) if ga == gb else _relation(op, ga, gb)
        if not (a_prop or b_prop):
            la, lb = self.literal_geometry(op, a), self.literal_geometry(op, b)
            return "TRUE" if _SHAPELY[op](la.shape, lb.shape) else "FALSE"
        if a_prop:
            return self.against_literal(op, self.geometry_property(op, a), b)
        # the literal first: the converse relation with the property first
        converse = {"s_within": "s_contains", "s_contains": "s_within"}.get(op, op)
        return self.against_literal(converse, self.geometry_property(op, b), a, said=op)

    def against_literal(self, op: str, geom: str, node: Any, said: str | None = None) -> str:
        """``geom`` (a stored geometry, which lies in the domain) in relation ``op`` with a
        literal, the literal clipped to the domain first. The answer is the same as with the
        whole literal: a feature lies inside the domain, far from its edges, so near a
        feature the literal and its clipped part are the same; what a relation says of the
        literal away from the features is decided here. ``said``: the operator as the filter
        wrote it, for messages."""
        literal = self.literal_geometry(said or op, node)
        domain = _DOMAINS[self.crs.srid]
        if domain.covers(literal.shape):
            return _relation(op, geom, self.to_sql(literal), _dimension(literal))
        if literal.shape.covers(domain):
            # every feature lies in the literal's interior
            return f"(NOT ST_IsEmpty({geom}))" if op in ("s_intersects", "s_within") else "FALSE"
        clipped = _clip(literal, domain)
        if clipped.shape.is_empty:
            return f"({geom} IS NOT NULL)" if op == "s_disjoint" else "FALSE"
        if op in ("s_contains", "s_equals"):
            return "FALSE"  # a feature holds no point outside the domain
        other = self.to_sql(clipped)
        dim = _dimension(literal)
        # The literal has interior points outside every feature (those outside the domain):
        # what remains of the relation is the matrix near the feature, read on the clipped part
        box = f"({geom}) && {other}"
        if op == "s_overlaps":
            pattern = "1*T******" if dim == 1 else "T*T******"
            return (
                f"(ST_Dimension({geom}) = {dim} AND {box} AND {_prepared(op, geom, other, dim)}"
                f"ST_Relate({geom}, {other}, '{pattern}'))"
            )
        if op == "s_crosses":
            cases = [
                f"WHEN ST_Dimension({geom}) < {dim} THEN NOT ST_Covers({other}, {geom}) "
                f"AND ST_Relate({geom}, {other}, 'T*T******')",
                f"WHEN ST_Dimension({geom}) > {dim} THEN ST_Relate({geom}, {other}, 'T********')",
            ]
            if dim == 1:
                cases.append(f"WHEN TRUE THEN ST_Relate({geom}, {other}, '0********')")
            return (
                f"({box} AND ST_Intersects({geom}, {other}) "
                f"AND CASE {' '.join(cases)} ELSE FALSE END)"
            )
        return _relation(op, geom, other, dim)

    def dwithin(self, args: list) -> str:
        if len(args) not in (3, 4):
            raise FilterError("S_DWITHIN takes (geometry, <geometry>, distance[, units])")
        a, b = args[0], args[1]
        if _is_property(b) and not _is_property(a):
            a, b = b, a
        geom = self.geometry_property("s_dwithin", a)
        distance = args[2]
        if isinstance(distance, bool) or not isinstance(distance, int | float):
            raise FilterError("S_DWITHIN's distance must be a number (metres)")
        if len(args) == 4:
            unit = args[3].get("property") if isinstance(args[3], dict) else args[3]
            if not isinstance(unit, str) or unit not in _DISTANCE_UNITS:
                raise FilterError(f"S_DWITHIN's units are {', '.join(_DISTANCE_UNITS)}")
            distance *= _DISTANCE_UNITS[unit]
        if not 0 <= distance <= MAX_DISTANCE_M:
            raise FilterError(f"S_DWITHIN's distance must be 0 to {MAX_DISTANCE_M} metres")
        if _is_property(b):
            other = self.geometry_property("s_dwithin", b)
            if other == geom:
                return _self_relation("s_dwithin", geom)
        else:
            # the domain's margin exceeds MAX_DISTANCE_M: what is clipped off is out of reach
            clipped = _clip(self.literal_geometry("s_dwithin", b), _DOMAINS[self.crs.srid])
            if clipped.shape.is_empty:
                return "FALSE"
            other = self.to_sql(clipped)
        # Lambert-93 is in metres: the distance is on the projected plane
        d = self.bind(float(distance))
        return f"(({geom}) && ST_Expand({other}, {d}) AND ST_DWithin({geom}, {other}, {d}))"

    def geometry_property(self, op: str, node: Any) -> str:
        prop = self.property(op, node)
        if prop.type != "geometry":
            raise FilterError(f"{op.upper()} applies to the geometry, not to {node['property']!r}")
        return prop.sql

    def literal_geometry(self, op: str, node: Any) -> _Literal:
        """A BBOX or GeoJSON geometry of the filter, checked, in x/y order."""
        crs = self.crs
        if isinstance(node, dict) and "op" in node:
            raise _unclaimed(node["op"])
        if isinstance(node, dict) and set(node) == {"bbox"}:
            box = node["bbox"]
            if not (isinstance(box, list) and len(box) in (4, 6)):
                raise FilterError("BBOX takes 4 (or 6) numbers")
            if not all(_finite(v) for v in box):
                raise FilterError("BBOX takes numbers")
            half = len(box) // 2
            (x0, y0), (x1, y1) = _xy(crs, box[0:2]), _xy(crs, box[half : half + 2])
            if x0 > x1 or y0 > y1:
                raise FilterError("BBOX's minimum must not exceed its maximum")
            self.in_bounds([(x0, y0), (x1, y1)])
            return _Literal(shapely.box(x0, y0, x1, y1), (x0, y0, x1, y1))
        if not (isinstance(node, dict) and node.get("type") in _GEOMETRY_TYPES):
            raise FilterError(f"{op.upper()}: expected a geometry or BBOX, got {_show(node)}")
        try:
            shape = shapely.geometry.shape(node)
        except (
            ValueError,
            TypeError,
            AttributeError,
            IndexError,
            KeyError,
            shapely.errors.ShapelyError,  # GEOS's own refusals (a one-point LineString)
        ) as exc:
            raise FilterError(f"{op.upper()}: not a valid geometry ({exc})") from None
        if shape.is_empty:
            raise FilterError(f"{op.upper()}: the geometry is empty")
        coords = shapely.get_coordinates(shape)
        if not all(_finite(v) for v in coords.flat):
            raise FilterError(f"{op.upper()}: coordinates must be finite numbers")
        if crs.lat_first:
            shape = shapely.ops.transform(lambda a, b, *z: (b, a), shape)
        self.in_bounds(shapely.get_coordinates(shape).tolist())
        if not shape.is_valid:
            raise FilterError(
                f"{op.upper()}: the geometry is not valid ({explain_validity(shape)})"
            )
        return _Literal(shape)

    def to_sql(self, literal: _Literal) -> str:
        """SQL of a literal geometry in Lambert-93."""
        crs = self.crs
        if literal.box is not None:
            x0, y0, x1, y1 = literal.box
            envelope = (
                f"ST_Segmentize(ST_MakeEnvelope({self.bind(x0)}, {self.bind(y0)}, "
                f"{self.bind(x1)}, {self.bind(y1)}), {crs.segment})"
            )
            return to_lambert93_sql(crs, envelope)
        # WKB, not text: a bound bytea parameter that PostGIS reads as a geometry
        wkb = f"ST_GeomFromWKB({self.bind(shapely.to_wkb(shapely.force_2d(literal.shape)))})"
        if crs.srid == LAMBERT93:
            return to_lambert93_sql(crs, wkb)
        # edges straight in the filter CRS, densified as a BBOX's: a clipped literal then
        # keeps, near the features, the shape of the whole
        return to_lambert93_sql(crs, f"ST_Segmentize({wkb}, {crs.segment})")

    def in_bounds(self, points: list) -> None:
        """Coordinates (x/y order) within the CRS: any longitude and latitude, or the
        projected CRS's area."""
        crs = self.crs
        a0, b0, a1, b1 = (-180.0, -90.0, 180.0, 90.0) if crs.geographic else crs.bounds
        for x, y, *_ in points:
            if not (a0 <= x <= a1 and b0 <= y <= b1):
                a, b = (y, x) if crs.lat_first else (x, y)
                raise FilterError(
                    f"coordinates {a:g} {b:g} are outside {crs.uri} "
                    "(the filter-crs; CRS84 is longitude, latitude)"
                )


def _is_property(node: Any) -> bool:
    return isinstance(node, dict) and "property" in node


# A stored geometry in relation with itself, decided without GEOS, which relates a polygon
# with its own edges slowly: S_EQUALS(geometry, geometry) over the demo's 24,000 parcels ran
# into the statement timeout, a connection held 15 s by any client, as often as it liked.
# Stored geometries are valid (made so on import): one equals itself (empty too, as PostGIS
# says), is within, contains and lies within any distance of itself unless empty, and never
# touches, overlaps or crosses itself. A null geometry stays null (NOT keeps it unmatched).
_SELF_RELATION = {
    "s_equals": "({g} IS NOT NULL OR NULL)",
    "s_intersects": "(NOT ST_IsEmpty({g}))",
    "s_within": "(NOT ST_IsEmpty({g}))",
    "s_contains": "(NOT ST_IsEmpty({g}))",
    "s_dwithin": "(NOT ST_IsEmpty({g}))",
    "s_disjoint": "ST_IsEmpty({g})",
    "s_touches": "({g} IS NULL AND NULL)",
    "s_overlaps": "({g} IS NULL AND NULL)",
    "s_crosses": "({g} IS NULL AND NULL)",
}


def _self_relation(op: str, geom: str) -> str:
    """SQL: ``geom`` in relation ``op`` with itself."""
    return _SELF_RELATION[op].format(g=geom)


def _relation(op: str, geom: str, other: str, dim: int | None = None) -> str:
    """SQL: ``geom`` in relation ``op`` with ``other`` (a literal of dimension ``dim``, or a
    property)."""
    if op == "s_disjoint":
        # not intersecting, said so that PostGIS tests a prepared literal (null stays null)
        return f"(NOT ST_Intersects({geom}, {other}))"
    # Every other relation implies that the boxes overlap. Said explicitly, as in
    # geo.db.bbox: the planner then estimates the rows as it does for a bbox, not
    # 50x more, and takes no parallel plan that costs 20 ms to start.
    prepared = _prepared(op, geom, other, dim) if dim is not None else ""
    return f"(({geom}) && {other} AND {prepared}{_SPATIAL[op]}({geom}, {other}))"


def _prepared(op: str, geom: str, other: str, dim: int) -> str:
    """Conditions that a relation implies and that PostGIS tests against a literal prepared
    once (ST_Intersects, ST_Covers, ST_ContainsProperly): a large literal then costs the
    full relation (computed afresh for every row) only for the features near its boundary.
    Empty for the relations PostGIS already prepares; otherwise ends with AND."""
    if op == "s_overlaps":
        # the feature's interior meets the literal's, and its exterior
        return f"ST_Intersects({geom}, {other}) AND NOT ST_Covers({other}, {geom}) AND "
    if op == "s_touches":
        # a feature inside the literal's interior meets it there
        return f"ST_Intersects({geom}, {other}) AND NOT ST_ContainsProperly({other}, {geom}) AND "
    if op == "s_crosses":
        # crossing an area, a feature of lower dimension goes out of it
        covered = f"NOT ST_Covers({other}, {geom}) AND " if dim == 2 else ""
        return f"ST_Intersects({geom}, {other}) AND {covered}"
    return ""


def _dimension(literal: _Literal) -> int:
    return int(shapely.get_dimensions(literal.shape))


def _clip(literal: _Literal, domain: Any) -> _Literal:
    """The part of a literal geometry inside the domain (a box stays a box)."""
    if literal.box is not None:
        x0, y0, x1, y1 = literal.box
        d0, e0, d1, e1 = domain.bounds
        box = (max(x0, d0), max(y0, e0), min(x1, d1), min(y1, e1))
        if box[0] > box[2] or box[1] > box[3]:
            return _Literal(shapely.Point())
        return _Literal(shapely.box(*box), box)
    return _Literal(shapely.intersection(literal.shape, domain))


def _kind_of(op: str, value: Any) -> str:
    """The type of a literal standing alone."""
    if isinstance(value, bool):
        return "boolean"
    if _finite(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict) and set(value) == {"date"}:
        return "date"
    if isinstance(value, dict) and set(value) == {"timestamp"}:
        return "date-time"
    raise FilterError(f"{op.upper()}: expected a value, got {_show(value)}")


def _xy(crs: Crs, pair: list) -> tuple[float, float]:
    a, b = float(pair[0]), float(pair[1])
    return (b, a) if crs.lat_first else (a, b)


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _family(kind: str) -> str:
    return "number" if kind in ("number", "integer") else kind


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def to_sql(tree: dict[str, Any] | bool, queryables: Mapping[str, Queryable], crs: Crs) -> SqlFilter:
    """The SQL condition of a parsed filter (geometries given in ``crs``, the filter-crs)."""
    translator = _Translator(queryables, crs)
    clause = translator.boolean(tree)
    return SqlFilter(clause, translator.params)


def compile_filter(
    text: str, lang: str, queryables: Mapping[str, Queryable], crs: Crs
) -> SqlFilter:
    return to_sql(parse(text, lang), queryables, crs)
