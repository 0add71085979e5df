"""CQL2 filters (OGC API - Features, Part 3) translated to SQL over a collection's queryables.

The text and JSON encodings are parsed by ``cql2`` (PyPI: the Python binding of
developmentseed's cql2-rs, a Rust parser and validator of both encodings), which gives one
CQL2-JSON tree whatever the encoding. This module walks that tree: a property must be one of
the collection's published queryables (each names its own SQL expression and type), every
literal becomes a bound parameter checked against the queryable's type, and geometries are
checked (shapely) before PostGIS projects them into Lambert-93. No text of the request ever
reaches the SQL; what is not supported is refused with a message saying so.

Hostile input is bounded before it costs anything: the filter's length, its nesting depth,
the size of IN lists. The Rust parser recurses once per nesting level, so it runs in a
thread of its own with a large stack: a filter nested a few thousand levels deep (within
the length limit) would overflow a request thread's stack and kill the process.
"""

from __future__ import annotations

import datetime
import json
import math
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import cql2
import shapely
import shapely.errors
import shapely.geometry
import shapely.ops
from shapely.validation import explain_validity

from app.services.crs import Crs, to_lambert93_sql
from geo.errors import Invalid

MAX_FILTER_CHARS = 8192
MAX_DEPTH = 32
MAX_IN_VALUES = 1000
MAX_DISTANCE_M = 100_000

TEXT = "cql2-text"
JSON = "cql2-json"
# "cql-text" is the name of the text encoding in the drafts of Part 3, and the only one
# GDAL's OAPIF driver (3.6 to 3.12 at least) pushes a -where down with: read as cql2-text.
LEGACY_TEXT = "cql-text"
LANGUAGES = (TEXT, JSON, LEGACY_TEXT)


class FilterError(Invalid):
    """A filter that cannot be used: its message says why, for the client."""


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


# The Rust parser's own thread: 256 MB of stack (reserved, touched only as deep as a parse
# goes); a filter of MAX_FILTER_CHARS characters needs at most a few tens of MB.
def _big_stack_executor() -> ThreadPoolExecutor:
    previous = threading.stack_size(256 * 1024 * 1024)
    try:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cql2")
        executor.submit(lambda: None).result()  # the thread is created now, with that stack
    finally:
        threading.stack_size(previous)
    return executor


_PARSER: ThreadPoolExecutor | None = None
_PARSER_LOCK = threading.Lock()


def _parse(text: str, lang: str) -> Any:
    parse = cql2.parse_json if lang == JSON else cql2.parse_text
    try:
        return parse(text).to_json()
    except (cql2.ParseError, cql2.ValidationError):
        raise
    except Exception as exc:
        # Besides its own errors, the parser raises a bare Exception for a geometry it
        # cannot build (POINT EMPTY: "a position must contain two or more elements"):
        # whatever it raises is about the text it was given.
        raise ValueError(str(exc)) from None


def parse(text: str, lang: str = TEXT) -> dict[str, Any]:
    """The CQL2-JSON tree of a filter in either encoding."""
    global _PARSER
    if lang not in LANGUAGES:
        raise FilterError(f"filter-lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(f"the filter is {len(text)} characters long: at most {MAX_FILTER_CHARS}")
    if not text.strip():
        raise FilterError("the filter is empty")
    with _PARSER_LOCK:
        if _PARSER is None:
            _PARSER = _big_stack_executor()
    try:
        tree = _PARSER.submit(_parse, text, lang).result()
    except (cql2.ParseError, cql2.ValidationError, ValueError) as exc:
        first = str(exc).strip().splitlines()
        raise FilterError(
            f"the filter is not valid {lang}: " + " ".join(line.strip() for line in first[:6])
        ) from None
    if not isinstance(tree, dict):
        raise FilterError("the filter must be a boolean expression")
    _check_depth(tree)
    return tree


def _check_depth(tree: Any) -> None:
    """Refuse trees nested deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise FilterError(f"the filter is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


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
            left, right, _ = self.operands(op, args[0], args[1])
            return f"({left} {_COMPARISONS[op]} {right})"
        if op == "like":
            self.arity(op, args, 2)
            left, right, kind = self.operands(op, args[0], args[1])
            if kind != "string":
                raise FilterError("LIKE compares strings only")
            pattern = self.params.get(right.lstrip(":"))
            if isinstance(pattern, str) and (len(pattern) - len(pattern.rstrip("\\"))) % 2:
                raise FilterError("a LIKE pattern must not end with the escape character \\")
            return f"({left} LIKE {right})"
        if op == "between":
            self.arity(op, args, 3)
            value, low, kind = self.operands(op, args[0], args[1])
            if kind not in ("number", "integer", "date", "date-time"):
                raise FilterError("BETWEEN takes numbers or dates")
            _, high, _ = self.operands(op, args[0], args[2])
            return f"({value} BETWEEN {low} AND {high})"
        if op == "in":
            self.arity(op, args, 2)
            values = args[1]
            if not isinstance(values, list) or not values:
                raise FilterError("IN needs a non-empty list of values")
            if len(values) > MAX_IN_VALUES:
                raise FilterError(f"IN lists hold at most {MAX_IN_VALUES} values")
            prop = self.property(op, args[0])
            literals = [self.literal(op, v, prop.type) for v in values]
            return f"({prop.sql} = ANY({self.bind(literals)}))"
        if op == "isnull":
            self.arity(op, args, 1)
            if isinstance(args[0], dict) and "property" in args[0]:
                return f"({self.property(op, args[0]).sql} IS NULL)"
            raise FilterError("IS NULL applies to a queryable property")
        if op in _SPATIAL:
            self.arity(op, args, 2)
            geom, other = self.spatial_operands(op, args[0], args[1])
            test = f"{_SPATIAL[op]}({geom}, {other})"
            if op == "s_disjoint":
                return test
            # Every other relation implies that the boxes overlap. Said explicitly, as in
            # geo.db.bbox: the planner then estimates the rows as it does for a bbox, not
            # 50x more, and takes no parallel plan that costs 20 ms to start.
            return f"(({geom}) && {other} AND {test})"
        if op == "s_dwithin":
            if len(args) not in (3, 4):
                raise FilterError("S_DWITHIN takes (geometry, <geometry>, distance[, units])")
            geom, other = self.spatial_operands(op, args[0], args[1])
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
            # Lambert-93 is in metres: the distance is on the projected plane
            d = self.bind(float(distance))
            return f"(({geom}) && ST_Expand({other}, {d}) AND ST_DWithin({geom}, {other}, {d}))"
        raise FilterError(f"{node['op']!r} is not supported; supported: {SUPPORTED}")

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

    def operands(self, op: str, a: Any, b: Any) -> tuple[str, str, str]:
        """SQL of a property and a literal (either order, or two properties) of one type."""
        for side in (a, b):
            if isinstance(side, dict) and "op" in side:
                raise FilterError(
                    f"{str(side['op'])[:40]!r} (a function or arithmetic) is not supported; "
                    f"supported: {SUPPORTED}"
                )
        a_is_prop = isinstance(a, dict) and "property" in a
        b_is_prop = isinstance(b, dict) and "property" in b
        if a_is_prop and b_is_prop:
            pa, pb = self.property(op, a), self.property(op, b)
            if _family(pa.type) != _family(pb.type) or pa.type == "geometry":
                raise FilterError(f"{op.upper()} compares a {pa.type} with a {pb.type}")
            return pa.sql, pb.sql, pa.type
        if a_is_prop:
            prop = self.property(op, a)
            if prop.type == "geometry":
                raise FilterError("a geometry is compared with spatial functions (S_INTERSECTS…)")
            return prop.sql, self.bind(self.literal(op, b, prop.type)), prop.type
        if b_is_prop:
            right, left, kind = self.operands(op, b, a)
            return left, right, kind
        raise FilterError(f"{op.upper()} must name a queryable property")

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

    # -- spatial operands
    def spatial_operands(self, op: str, a: Any, b: Any) -> tuple[str, str]:
        if (
            isinstance(b, dict)
            and "property" in b
            and not (isinstance(a, dict) and "property" in a)
        ):
            a, b = b, a
        prop = self.property(op, a)
        if prop.type != "geometry":
            raise FilterError(f"{op.upper()} applies to the geometry, not to {a['property']!r}")
        return prop.sql, self.geometry(op, b)

    def geometry(self, op: str, node: Any) -> str:
        crs = self.crs
        if isinstance(node, dict) and set(node) == {"bbox"}:
            box = node["bbox"]
            if not (isinstance(box, list) and len(box) in (4, 6)):
                raise FilterError("BBOX takes 4 (or 6) numbers")
            if not all(_finite(v) for v in box):
                raise FilterError("BBOX takes numbers")
            half = len(box) // 2
            lo, hi = box[0:2], box[half : half + 2]
            (x0, y0), (x1, y1) = _xy(crs, lo), _xy(crs, hi)
            if x0 > x1 or y0 > y1:
                raise FilterError("BBOX's minimum must not exceed its maximum")
            self.in_bounds([lo, hi])
            envelope = (
                f"ST_Segmentize(ST_MakeEnvelope({self.bind(x0)}, {self.bind(y0)}, "
                f"{self.bind(x1)}, {self.bind(y1)}), {crs.segment})"
            )
            return to_lambert93_sql(crs, envelope)
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
        self.in_bounds(coords.tolist())
        if not shape.is_valid:
            raise FilterError(
                f"{op.upper()}: the geometry is not valid ({explain_validity(shape)})"
            )
        if crs.lat_first:
            shape = shapely.ops.transform(lambda a, b, *z: (b, a), shape)
        # WKB, not text: a bound bytea parameter that PostGIS reads as a geometry
        return to_lambert93_sql(crs, f"ST_GeomFromWKB({self.bind(shapely.to_wkb(shape))})")

    def in_bounds(self, points: list) -> None:
        a0, b0, a1, b1 = self.crs.bounds
        for p in points:
            if not (a0 <= p[0] <= a1 and b0 <= p[1] <= b1):
                raise FilterError(
                    f"coordinates {p[0]:g} {p[1]:g} are outside {self.crs.uri} "
                    "(the filter-crs; CRS84 is longitude, latitude)"
                )


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


def to_sql(tree: dict[str, Any], queryables: Mapping[str, Queryable], crs: Crs) -> SqlFilter:
    """The SQL condition of a parsed filter (geometries given in ``crs``, the filter-crs)."""
    translator = _Translator(queryables, crs)
    clause = translator.boolean(tree)
    return SqlFilter(clause, translator.params)


def compile_filter(
    text: str, lang: str, queryables: Mapping[str, Queryable], crs: Crs
) -> SqlFilter:
    return to_sql(parse(text, lang), queryables, crs)
