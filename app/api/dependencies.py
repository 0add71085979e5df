"""Query parameters parsed once, so that handlers stay short."""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Path, Query, Request
from sqlalchemy import Connection

from app.api.errors import InvalidParameter
from app.replicas import (
    CONSISTENCY_COOKIE,
    CONSISTENCY_HEADER,
    bearer_key,
    consistency_token,
)
from app.services.collections import COLLECTIONS, Collection
from app.services.cql2 import SqlFilter, compile_filter
from app.services.cql2_parse import LANGUAGES, TEXT, FilterError
from app.services.crs import CRSS, DEFAULT, STORAGE, Crs, crs_by_uri, xy
from app.services.features import ItemsQuery
from app.settings import Settings
from geo.db.bbox import BBox
from geo.errors import Invalid, NotFound
from geo.scoring.query import ParcelSearch, SearchArea, SiteSearch
from geo.scoring.search import Filters
from geo.territories import LEVELS
from geo.text import Digits, number_text
from geo.zan.rulesets import default_ruleset_id, load_rulesets

S = TypeVar("S", bound=SearchArea)

INSEE_PATTERN = LEVELS["commune"].pattern
SIREN_PATTERN = LEVELS["epci"].pattern
DEPARTEMENT_PATTERN = LEVELS["departement"].pattern
REGION_PATTERN = LEVELS["region"].pattern
RULESET_ID_PATTERN = r"^[a-z0-9-]{1,64}$"

# An envelope rule set, as a query parameter (reports, projects) or a body member (a new
# project): its values and default documented from the rule sets themselves.
ENVELOPE_RULESETS = sorted(r.id for r in load_rulesets().values() if r.envelope is not None)
ENVELOPE_RULESET_FIELD = {
    "pattern": RULESET_ID_PATTERN,
    "description": (
        f"Envelope rule set id, one of {', '.join(ENVELOPE_RULESETS)} "
        f"(default: {default_ruleset_id('envelope')}); /rulesets describes them"
    ),
    "json_schema_extra": {"enum": ENVELOPE_RULESETS},
}
EnvelopeRulesetQuery = Annotated[str | None, Query(**ENVELOPE_RULESET_FIELD)]


def get_connection(request: Request) -> Iterator[Connection]:
    """One pooled connection per request, from the engine the app was built with."""
    with request.app.state.engine.connect() as conn:
        yield conn


def get_read_connection(request: Request) -> Iterator[Connection]:
    """A connection for a request that only reads: to a hot standby when the service has
    some and it has replayed the caller's own last write (known to this process, or named by
    the request's consistency token), else to the primary (app/replicas.py)."""
    bearer = bearer_key(request.headers.get("authorization"))
    token = consistency_token(
        request.headers.get(CONSISTENCY_HEADER), request.cookies.get(CONSISTENCY_COOKIE)
    )
    with request.app.state.replicas.connect(request.app.state.engine, bearer, token) as conn:
        yield conn


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


ConnectionDep = Annotated[Connection, Depends(get_connection)]
# Returned to the pool when the handler returns, not once its answer is sent: an answer
# streamed to a slow client (an export) holds no connection of the requests' pool.
ReadConnectionDep = Annotated[Connection, Depends(get_read_connection, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def parse_bbox(bbox: str, crs: Crs, max_degrees: float) -> BBox:
    """``bbox`` (4 or 6 numbers, in ``crs``'s axis order) as x/y (easting or longitude
    first) min and max; any fault is an InvalidParameter saying which."""
    parts = bbox.split(",")
    try:
        values = [number_text(v) for v in parts]
    except ValueError:
        raise InvalidParameter(
            f"bbox must be four numbers separated by commas, got {bbox!r}"
        ) from None
    if len(values) not in (4, 6):
        raise InvalidParameter(
            f"bbox must have 4 numbers (minLon,minLat,maxLon,maxLat), got {len(values)}"
        )
    if not all(math.isfinite(v) for v in values):
        raise InvalidParameter("bbox must be finite numbers")
    # six numbers: a third (vertical) axis, which 2D features do not filter on
    half = len(values) // 2
    lo, hi = values[0:2], values[half : half + 2]
    a0, b0, a1, b1 = crs.bounds
    if not all(a0 <= v[0] <= a1 and b0 <= v[1] <= b1 for v in (lo, hi)):
        if crs.uri == DEFAULT.uri:
            raise InvalidParameter(
                "bbox is out of longitude/latitude range: is it in WGS84, lon first?"
            )
        raise InvalidParameter(f"bbox is outside the area of {crs.uri} (bbox-crs)")
    (min_x, min_y), (max_x, max_y) = xy(crs, *lo), xy(crs, *hi)
    if min_x >= max_x or min_y >= max_y:
        raise InvalidParameter(
            "bbox minimum must be below its maximum (minLon,minLat,maxLon,maxLat)"
        )
    limit = max_degrees * crs.units_per_degree
    if max_x - min_x > limit or max_y - min_y > limit:
        unit = "°" if crs.geographic else " m"
        raise InvalidParameter(
            f"bbox spans {max_x - min_x:g}{unit} by {max_y - min_y:g}{unit}: at most "
            f"{limit:g}{unit} a side; filter by territory for larger areas"
        )
    return (min_x, min_y, max_x, max_y)


def bbox_query(
    settings: SettingsDep,
    bbox: Annotated[
        str | None,
        Query(
            description="WGS84 longitude/latitude box: minLon,minLat,maxLon,maxLat",
            examples=["2.30,48.67,2.33,48.69"],
        ),
    ] = None,
) -> BBox | None:
    if bbox is None:
        return None
    return parse_bbox(bbox, DEFAULT, settings.max_bbox_degrees)


MAX_OFFSET = 1_000_000_000


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


LimitQuery = Annotated[
    int | None, Query(ge=1, description="Page size (default and maximum are settings)"), Digits
]


def page_size(settings: Settings, limit: int | None) -> int:
    """The one page-size check: the settings' default, at most their maximum."""
    limit = settings.default_page_size if limit is None else limit
    if limit > settings.max_page_size:
        raise InvalidParameter(f"limit must not exceed {settings.max_page_size}")
    return limit


def page_size_query(settings: SettingsDep, limit: LimitQuery = None) -> int:
    return page_size(settings, limit)


PageSizeDep = Annotated[int, Depends(page_size_query)]


def page_query(
    limit: PageSizeDep,
    # bounded: PostgreSQL's OFFSET is a bigint, and no collection holds a billion rows
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Number of features to skip"), Digits
    ] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


BBoxDep = Annotated[BBox | None, Depends(bbox_query)]


def search_filters(search: SearchArea, settings: Settings) -> Filters:
    """The domain filter of a parcel or site search (geo.scoring.query): what its values
    say together, and a box wider than the settings allow, are 400 problems, as the other
    faults no schema can state."""
    if search.bbox is not None:
        text = ",".join(map(str, search.bbox))
        parse_bbox(text, DEFAULT, settings.max_bbox_degrees)
    try:
        return search.filters()
    except Invalid as exc:
        raise InvalidParameter(str(exc)) from None


@dataclass(frozen=True)
class Search(Generic[S]):
    """A search's parameters as asked, and its checked domain filter."""

    asked: S
    filters: Filters


# The search's parameters are declared once, by its model; a dependency so that they are
# checked before the page's size, as the other routes check their bbox first.
def parcel_search(
    search: Annotated[ParcelSearch, Query()], settings: SettingsDep
) -> Search[ParcelSearch]:
    return Search(search, search_filters(search, settings))


def site_search(
    search: Annotated[SiteSearch, Query()], settings: SettingsDep
) -> Search[SiteSearch]:
    return Search(search, search_filters(search, settings))


ParcelSearchDep = Annotated[Search[ParcelSearch], Depends(parcel_search)]
SiteSearchDep = Annotated[Search[SiteSearch], Depends(site_search)]


PageDep = Annotated[Page, Depends(page_query)]


def collection_path(
    collection_id: Annotated[
        str,
        Path(
            alias="collectionId",
            examples=["parcels"],
            description="A collection id, as in /collections",
        ),
    ],
) -> Collection:
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise NotFound(
            f"no collection {collection_id!r}; the collections are {', '.join(COLLECTIONS)}"
        ) from None


CollectionDep = Annotated[Collection, Depends(collection_path)]


# --- OGC API - Features: the parameters of /collections/{id}/items, parsed in one place


def crs_param(value: str | None, name: str) -> Crs:
    if value is None:
        return DEFAULT
    crs = crs_by_uri(value)
    if crs is None:
        raise InvalidParameter(
            f"{name} {value[:100]!r} is not supported; supported: {', '.join(CRSS)}"
        )
    return crs


CRS_DESCRIPTION = "A CRS by its URI, one of: " + ", ".join(CRSS)
CrsQuery = Annotated[
    str | None,
    Query(description=f"CRS of the geometries returned. {CRS_DESCRIPTION}", max_length=200),
]


def output_crs(crs: CrsQuery = None) -> Crs:
    return crs_param(crs, "crs")


def export_crs(fmt: str, value: str | None) -> Crs:
    """The CRS of an export's geometries: the one ``value`` names, else CRS84 for GeoJSON
    (RFC 7946) and Lambert-93 for GeoPackage and CSV (the CRS French GIS users work in).
    GeoPackage and CSV write x (easting, longitude) then y whatever the CRS's axis order."""
    default = DEFAULT if fmt == "geojson" else STORAGE
    crs = crs_param(value, "crs") if value is not None else default
    return crs if fmt == "geojson" else dataclasses.replace(crs, lat_first=False)


EXPORT_CRS_DESCRIPTION = (
    "CRS of an export's geometries (and of a CSV's x and y): by default CRS84 for geojson "
    "(RFC 7946), Lambert-93 (EPSG:2154) for gpkg and csv. " + CRS_DESCRIPTION
)


OutputCrsDep = Annotated[Crs, Depends(output_crs)]

_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$")


def _instant(value: str) -> datetime.date | datetime.datetime | None:
    if value in ("", ".."):
        return None
    if not _INSTANT.match(value.upper()):
        raise InvalidParameter(
            f"datetime {value[:60]!r} is not an RFC 3339 date or date-time "
            "(2024-01-31, 2024-01-31T12:00:00Z) nor an interval of them (a/b, ../b, a/..)"
        )
    try:
        if "T" not in value.upper():
            return datetime.date.fromisoformat(value)
        return datetime.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameter(f"datetime {value!r} is not a real date") from None


def parse_datetime(value: str) -> tuple[object, object]:
    """The datetime parameter (OGC API - Features, Part 1, §7.15.4) as (start, end)."""
    if "/" in value:
        start_text, _, end_text = value.partition("/")
        if start_text in ("", "..") and end_text in ("", ".."):
            raise InvalidParameter("datetime: an interval needs at least one end")
        start, end = _instant(start_text), _instant(end_text)
        if start is not None and end is not None and type(start) is type(end) and start > end:
            raise InvalidParameter("datetime: the interval's start is after its end")
        return start, end
    instant = _instant(value)
    if instant is None:
        raise InvalidParameter("datetime: a date, a date-time or an interval")
    return instant, instant


# Parameters of /items besides the collection's queryables.
OGC_ITEMS_PARAMETERS = {
    "format",
    "limit",
    "bbox",
    "bbox-crs",
    "crs",
    "cursor",
    "datetime",
    "filter",
    "filter-lang",
    "filter-crs",
    "f",
}
# json/geojson: a page (html: the page to read, f= only); csv and gpkg (f= or format=), or
# format=geojson: every matching feature at once, streamed (app.presentation.export)
ITEMS_FORMATS = ("json", "geojson", "csv", "csv-fr", "gpkg", "html")


@dataclass(frozen=True)
class OgcItemsRequest:
    """Everything an OGC items request asks for, checked: what to select (query), how many
    (limit), in which CRS and format."""

    query: ItemsQuery
    limit: int
    crs: Crs
    f: str
    # the export asked for (every matching feature), or None for a page
    export: str | None = None


def _typed(collection: Collection, name: str, value: str) -> object:
    kind = collection.type_of(name)
    try:
        if kind == "number":
            number = number_text(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if kind == "integer":
            if not re.fullmatch(r"-?[0-9]{1,12}", value):
                raise ValueError
            return int(value)
        if kind == "boolean":
            return {"true": True, "false": False}[value]
        if kind == "date":
            return datetime.date.fromisoformat(value)
        if kind == "date-time":
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, KeyError):
        raise InvalidParameter(f"{name} is a {kind}, got {value[:60]!r}") from None
    return value


def ogc_items_request(
    collection: CollectionDep,
    request: Request,
    settings: SettingsDep,
    crs: OutputCrsDep,
    limit: LimitQuery = None,
    bbox: Annotated[
        str | None,
        Query(
            description=(
                "Box minx,miny,maxx,maxy (4 or 6 numbers) in bbox-crs, CRS84 longitude/"
                "latitude by default: features whose geometry intersects it"
            ),
            examples=["2.30,48.67,2.33,48.69"],
        ),
    ] = None,
    bbox_crs: Annotated[
        str | None,
        Query(alias="bbox-crs", description=f"CRS of bbox. {CRS_DESCRIPTION}", max_length=200),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(max_length=64, description="Where the page starts: from the previous `next` link"),
    ] = None,
    datetime_: Annotated[
        str | None,
        Query(
            alias="datetime",
            max_length=100,
            description=(
                "RFC 3339 date, date-time or interval (a/b, ../b, a/..), on the collection's "
                "temporal property (friches: updated_on, projects: created_at); collections "
                "without one are not filtered by time"
            ),
        ),
    ] = None,
    filter_: Annotated[
        str | None,
        Query(
            alias="filter",
            description=(
                "A CQL2 filter over the collection's queryables (see /queryables): "
                "comparisons, LIKE, IN, BETWEEN, IS NULL, AND/OR/NOT, S_INTERSECTS, "
                "S_WITHIN, S_DWITHIN (metres)… e.g. score >= 60 AND S_INTERSECTS(geometry, "
                "BBOX(2.30,48.67,2.33,48.69))"
            ),
        ),
    ] = None,
    filter_lang: Annotated[
        str | None,
        Query(alias="filter-lang", description="cql2-text (default) or cql2-json"),
    ] = None,
    filter_crs: Annotated[
        str | None,
        Query(
            alias="filter-crs",
            description=f"CRS of the filter's geometries. {CRS_DESCRIPTION}",
            max_length=200,
        ),
    ] = None,
    f: Annotated[
        str | None,
        Query(
            description=(
                "Format: json or geojson (a page of GeoJSON), csv, csv-fr or gpkg (every "
                "matching feature, streamed)"
            )
        ),
    ] = None,
    format_: Annotated[
        str | None,
        Query(
            alias="format",
            description="Export every matching feature: csv, csv-fr (`;`, decimal comma), "
            "geojson or gpkg (streamed); gpkg and csv in Lambert-93 unless `crs` says",
        ),
    ] = None,
) -> OgcItemsRequest:
    """The one parser of OGC items parameters: each fault is a 400 problem saying which."""
    properties = _property_filters(collection, request)
    fmt, export = _items_format(f, format_)
    box_crs = crs_param(bbox_crs, "bbox-crs")
    box = parse_bbox(bbox, box_crs, settings.max_bbox_degrees) if bbox is not None else None
    sql_filter = _cql2_filter(collection, filter_, filter_lang, filter_crs)
    query = ItemsQuery(
        bbox=box,
        bbox_crs=box_crs,
        properties=properties,
        after=parse_key(collection, cursor) if cursor is not None else None,
        filter=sql_filter,
        interval=parse_datetime(datetime_) if datetime_ is not None else None,
    )
    if export is not None:  # a GeoPackage or CSV is in Lambert-93 unless crs says
        crs = export_crs(export, request.query_params.get("crs"))
    # the page size last, as the other routes check it after their bbox
    return OgcItemsRequest(
        query=query, limit=page_size(settings, limit), crs=crs, f=fmt, export=export
    )


def _property_filters(collection: Collection, request: Request) -> dict[str, object]:
    """The query's other parameters: equality filters on the collection's queryables."""
    raw = request.query_params
    properties = {k: v for k, v in raw.items() if k not in OGC_ITEMS_PARAMETERS}
    unknown = sorted(set(properties) - set(collection.queryables))
    if unknown:
        raise InvalidParameter(
            f"unknown parameter(s) {', '.join(unknown)[:200]}; {collection.id} can be filtered "
            f"on {', '.join(collection.queryables) or 'nothing'} (see its queryables)"
        )
    return {k: _typed(collection, k, v) for k, v in properties.items()}


def _items_format(f: str | None, format_: str | None) -> tuple[str, str | None]:
    """The answer's format, and the export's when every matching feature is streamed."""
    if f is not None and format_ is not None:
        raise InvalidParameter("give f or format, not both")
    fmt = format_ or f or "json"
    if fmt not in ITEMS_FORMATS or format_ == "html":
        raise InvalidParameter(f"f must be one of {', '.join(ITEMS_FORMATS)}")
    export = (
        fmt if fmt in ("csv", "csv-fr", "gpkg") or (format_ is not None and fmt != "json") else None
    )
    return fmt, export


def _cql2_filter(
    collection: Collection, text: str | None, lang: str | None, crs: str | None
) -> SqlFilter | None:
    """The CQL2 filter compiled against the collection's queryables; filter-lang and
    filter-crs are checked even without a filter."""
    if lang is not None and lang not in LANGUAGES:
        raise InvalidParameter(f"filter-lang must be one of {', '.join(LANGUAGES)}")
    filter_crs = crs_param(crs, "filter-crs")
    if text is None:
        return None
    try:
        return compile_filter(text, lang or TEXT, collection.filterables(), filter_crs)
    except FilterError as exc:
        raise InvalidParameter(str(exc)) from None


def parse_key(collection: Collection, value: str) -> str | int:
    """A feature id as its collection keys it (cursor, /items/{id})."""
    if not collection.key_is_int:
        return value
    # The canonical form only: int() would also take "01", " 1", "+1", "1_0" or "１", and
    # one feature must have one address.
    key = int(value) if re.fullmatch(r"[1-9][0-9]{0,9}", value) else None
    if key is None or not 0 < key < 2**31:
        raise InvalidParameter(f"{collection.id} ids are positive integers, got {value!r}")
    return key


OgcItemsDep = Annotated[OgcItemsRequest, Depends(ogc_items_request)]
