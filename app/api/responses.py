"""Response classes for bodies already serialised by PostGIS, their OpenAPI schemas, and
what answers share: the links they carry and their conditional (ETag) form."""

import gzip
import hashlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Connection

from app.api.dependencies import ReadConnectionDep
from geo.db.count import Matched
from geo.errors import NotFound

GEOJSON = "application/geo+json"
MVT = "application/vnd.mapbox-vector-tile"
SCHEMA_JSON = "application/schema+json"
# Smaller bodies are sent as they are: gzip's own header and trailer eat the gain. The
# GZip middleware (app/api/main.py) uses the same threshold for the other answers.
GZIP_MIN_BYTES = 1024


class GeoJSONResponse(Response):
    media_type = GEOJSON


class SchemaJSONResponse(JSONResponse):
    """A JSON Schema document (OGC API - Features, Part 3 queryables, Part 5 schemas)."""

    media_type = SCHEMA_JSON


# JSON Schema (OpenAPI 3.1) of what PostGIS builds: checked by the schemathesis fuzzing.
_GEOMETRY: dict[str, Any] = {
    "type": ["object", "null"],
    "required": ["type"],
    "properties": {"type": {"type": "string"}},
}
FEATURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"const": "Feature"},
        "id": {"type": ["string", "integer"]},
        "geometry": _GEOMETRY,
        "properties": {"type": ["object", "null"]},
        "links": {"type": "array", "items": {"type": "object"}},
    },
}
FEATURE_COLLECTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
        "links": {"type": "array", "items": {"type": "object"}},
        "features": {"type": "array", "items": FEATURE_SCHEMA},
    },
}


def geojson_response(schema: dict[str, Any], description: str) -> dict[int | str, Any]:
    return {200: {"description": description, "content": {GEOJSON: {"schema": schema}}}}


FEATURE_RESPONSE = geojson_response(FEATURE_SCHEMA, "A GeoJSON Feature (RFC 7946, WGS84)")
COLLECTION_RESPONSE = geojson_response(
    FEATURE_COLLECTION_SCHEMA, "A GeoJSON FeatureCollection (RFC 7946, WGS84)"
)


def base_url(request: Request) -> str:
    """The root of the links an answer carries, ending in "/": the configured public URL
    (FONCIER_PUBLIC_URL), else the address the server listens on (its socket's, e.g.
    http://127.0.0.1:8000/). Never the request's Host header: a client, or a cache it
    poisoned, would choose where the links point. Absolute, because OGC clients such as
    GDAL 3.6 do not resolve relative links."""
    public = request.app.state.settings.public_url
    if public:
        return public.rstrip("/") + "/"
    server = request.scope.get("server")
    if not server or server[1] is None:  # a Unix socket: links relative to the root
        return "/"
    host, port = server
    host = f"[{host}]" if ":" in host else host
    scheme = request.scope.get("scheme", "http")
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}/" if port == default else f"{scheme}://{host}:{port}/"


def link_to(request: Request, path: str | None = None, **params: Any) -> str:
    """A link to ``path`` (default: the request's own path and query, with ``params``
    replacing theirs in place, new ones appended), under base_url(). The query is written
    anew, one way (RFC 3986 percent-encoding, a space as %20), so that an answer's ``self``
    and ``next`` links spell the same parameters the same way, whatever the client sent."""
    if path is None:
        given = {str(k): str(v) for k, v in params.items()}
        items: list[tuple[str, str]] = []
        for key, value in request.query_params.multi_items():
            if key not in given:
                items.append((key, value))
            elif key not in dict(items):
                items.append((key, given[key]))
        items += [(k, v) for k, v in given.items() if k not in dict(items)]
        query = urlencode(items, safe=",:/", quote_via=quote)
        path = request.url.path + (f"?{query}" if query else "")
    return base_url(request) + path.lstrip("/")


def link_header(links: list[dict[str, Any]]) -> dict[str, str]:
    """The ``Link`` header (RFC 8288) repeating an answer's links, as OGC API - Common
    recommends: clients find the next page and the media types without parsing the body."""
    values = []
    for link in links:
        value = f'<{link["href"]}>; rel="{link["rel"]}"'
        if link.get("type"):
            value += f'; type="{link["type"]}"'
        values.append(value)
    return {"Link": ", ".join(values)} if values else {}


def json_with_links(body: dict[str, Any]) -> JSONResponse:
    """A JSON answer whose ``links`` are repeated in a Link header."""
    return JSONResponse(body, headers=link_header(body.get("links", [])))


def add_feature_route(
    router: APIRouter,
    path: str,
    find: Callable[[Connection, str], str | None],
    pattern: str,
    example: str,
    *,
    summary: str,
    missing: str,
) -> None:
    """``GET path``: the one GeoJSON Feature that ``find`` builds in PostGIS for the path's
    single parameter (checked against ``pattern``), or NotFound saying ``missing`` (a format
    string of that code). Parcels, communes and EPCI are read by code this same way; the
    operation is named after ``find`` (``commune_feature``: ``get_commune``)."""
    key = path[path.index("{") + 1 : path.index("}")]

    def read_one(conn: Connection, **path_values: str) -> GeoJSONResponse:
        code = path_values[key]
        feature = find(conn, code)
        if feature is None:
            raise NotFound(missing.format(code))
        return GeoJSONResponse(feature)

    # FastAPI reads the parameters from the signature: the path's own name, validated.
    code = Annotated[str, Path(pattern=pattern, examples=[example])]
    read_one.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, annotation=code),
            inspect.Parameter("conn", inspect.Parameter.KEYWORD_ONLY, annotation=ReadConnectionDep),
        ],
        return_annotation=GeoJSONResponse,
    )
    router.add_api_route(
        path,
        read_one,
        methods=["GET"],
        name="get_" + find.__name__.removesuffix("_feature"),
        summary=summary,
        response_class=GeoJSONResponse,
        responses=FEATURE_RESPONSE,
    )


def paging_links(
    request: Request, limit: int, offset: int, matched: Matched
) -> list[dict[str, str]]:
    """self, next and prev of an offset-paged GeoJSON answer (OGC API Features §7.15.6)."""

    def link(rel: str, at: int) -> dict[str, str]:
        href = link_to(request, limit=limit, offset=at)
        return {"rel": rel, "type": "application/geo+json", "href": href}

    links = [link("self", offset)]
    if matched.exceeds(offset + limit):
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("prev", max(offset - limit, 0)))
    return links


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header matches ``etag``: "*", or a comma-separated list of
    entity tags compared weakly (RFC 9110 §13.1.2: W/"x" matches "x")."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in if_none_match.split(","))


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header accepts gzip (RFC 9110 §12.5.3): named, or covered
    by "*", with a weight above 0; codings are compared without regard to case."""
    weights = dict(_weighted(accept_encoding or ""))  # named twice: the last says
    return weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0))) > 0


def _weighted(header: str) -> Iterator[tuple[str, float]]:
    """The items of an Accept or Accept-Encoding header, lowercased, with their weight
    (RFC 9110 §12.4.2: 1 when not given, 0 when unreadable, which accepts nothing)."""
    for item in header.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        weight = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if name:
            yield name.lower(), weight


@dataclass(frozen=True)
class Encoded:
    """A body with its entity tag and its gzip form (None when too small for gzip, or not
    made): what conditional answers send, made once for a body sent many times."""

    body: bytes
    tag: str
    gzipped: bytes | None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")


def encode(body: bytes, gzip_level: int, zip_it: bool = True) -> Encoded:
    """``body``, its tag, and its gzip form at ``gzip_level`` when ``zip_it`` and worth it."""
    gzipped = None
    if zip_it and len(body) >= GZIP_MIN_BYTES:
        # mtime=0: the same body gives the same bytes
        gzipped = gzip.compress(body, compresslevel=gzip_level, mtime=0)
    return Encoded(body, hashlib.blake2b(body, digest_size=12).hexdigest(), gzipped)


def conditional_response(
    request: Request, body: bytes, media_type: str, headers: dict[str, str], gzip_level: int
) -> Response:
    """``body`` gzipped at ``gzip_level`` when the client accepts gzip (see send_encoded)."""
    zip_it = accepts_gzip(request.headers.get("accept-encoding"))
    return send_encoded(request, encode(body, gzip_level, zip_it), media_type, headers)


def send_encoded(
    request: Request, encoded: Encoded, media_type: str, headers: dict[str, str]
) -> Response:
    """The body gzipped when the client accepts gzip, with the entity tag of the form sent
    (the gzip form is another representation, RFC 9110 §8.8.3): 304 when If-None-Match
    names it, 204 when the body is empty. For bodies the GZip middleware leaves alone (its
    excluded types), so this is the one place saying Vary, 304s included."""
    body, tag = encoded.body, encoded.tag
    zipped = (
        encoded.gzipped is not None
        and len(body) >= GZIP_MIN_BYTES
        and accepts_gzip(request.headers.get("accept-encoding"))
    )
    headers = {**headers, "ETag": f'"{tag}-gzip"' if zipped else f'"{tag}"'}
    if len(body) >= GZIP_MIN_BYTES:
        headers["Vary"] = "Accept-Encoding"
    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    if not body:
        return Response(status_code=204, headers=headers)
    if zipped:
        headers["Content-Encoding"] = "gzip"
        return Response(encoded.gzipped, media_type=media_type, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _accept_weights(accept: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for media, q in _weighted(accept):  # named twice: the higher weight says
        weights[media] = max(q, weights.get(media, 0.0))
    return weights


def wants_html(request: Request, f: str | None) -> bool:
    """An OGC document's HTML face: asked by ``f=html``, or by a browser's Accept (text/html
    weighed at least as much as any JSON type). Without either (``*/*``, JSON, GDAL, curl)
    the answer stays JSON."""
    if f is not None:
        return f == "html"
    weights = _accept_weights(request.headers.get("accept", ""))
    html = max(weights.get("text/html", 0.0), weights.get("application/xhtml+xml", 0.0))
    json_ = max((q for media, q in weights.items() if "json" in media), default=0.0)
    return html > 0 and html >= json_
