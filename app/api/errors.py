"""RFC 9457 problem details: one exception hierarchy, one map from exception to response."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from psycopg.errors import QueryCanceled
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from app.presentation.export import ClientGone
from geo.errors import Conflict, Denied, DomainError, Invalid, NotFound

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    code: str = Field(description="stable machine word (invalid_parameter, not_found…)")
    detail: str | None = None
    instance: str | None = None


# Documented on every operation: what a client may meet besides success.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": Problem,
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for status, description in {
        400: "Invalid parameter",
        401: "Missing, unknown or revoked token",
        403: "Not allowed for this token's role or territory",
        404: "Not found",
        409: "Conflict with the current state (envelope exhausted, status, ledger holdings)",
        413: "Request body or geometry too large",
        422: "Invalid request",
        503: "Database unavailable or query over the time limit",
    }.items()
}


class ApiError(Exception):
    """An error the API reports as a problem document."""

    status: int = 500
    headers: dict[str, str] = {}

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidParameter(ApiError):
    status = 400


class DatabaseUnavailable(ApiError):
    status = 503


class Unauthorized(ApiError):
    status = 401


class ContentTooLarge(ApiError):
    status = 413


class InvalidGeometry(ApiError):
    status = 422


# The problem document's machine member "code" (an RFC 9457 extension): stable words a
# client maps to its own text (the map page says them in French), where title and detail
# are English prose that may change. By status unless the handler names a finer code.
PROBLEM_CODES: dict[int, str] = {
    400: "invalid_parameter",
    401: "unauthorized",
    403: "denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "too_many_requests",
    500: "server_error",
    503: "unavailable",
}


def problem(
    status: int,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
    **extra: Any,
) -> JSONResponse:
    # type "about:blank": the title is then the HTTP status phrase (RFC 9457 §4.2.1).
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code or PROBLEM_CODES.get(status, "error"),
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = dict(headers or {})
    if status == 503:
        headers["Retry-After"] = "5"
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="foncier"'
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# The one map from the domain's kinds of refusal to HTTP (geo speaks no HTTP). An invalid
# value the domain finds is 422: the request was well formed, its content cannot be used.
DOMAIN_STATUS: dict[type[DomainError], int] = {
    Invalid: 422,
    NotFound: 404,
    Conflict: 409,
    Denied: 403,
}


def domain_status(exc: DomainError) -> int:
    """The status of a domain error: that of its nearest kind in DOMAIN_STATUS."""
    for kind in type(exc).__mro__:
        if kind in DOMAIN_STATUS:
            return DOMAIN_STATUS[kind]
    return 422


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem(domain_status(exc), str(exc), instance=request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem(
            exc.status, exc.detail, headers=exc.headers, instance=request.url.path, **exc.extra
        )

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # FastAPI turns any failure while reading a body into a 400; ours carry their status.
        if isinstance(exc.__cause__, ApiError):
            cause = exc.__cause__
            return problem(cause.status, cause.detail, instance=request.url.path)
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route for {request.url.path}"
        if exc.status_code == 405:
            routed = {m.strip() for m in headers.get("Allow", "").split(",") if m.strip()}
            headers["Allow"] = ", ".join(_allowed_methods(request, routed))
            detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        return problem(exc.status_code, detail, headers=headers, instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"location": list(err["loc"]), "message": err["msg"]} for err in exc.errors()]
        summary = "; ".join(f"{'.'.join(map(str, e['location']))}: {e['message']}" for e in errors)
        status = 400 if is_ogc_path(_route_path(request)) else 422
        return problem(
            status, summary, code="invalid_request", instance=request.url.path, errors=errors
        )

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        if isinstance(exc.orig, QueryCanceled):
            limit = request.app.state.settings.statement_timeout_ms
            return problem(
                503,
                code="query_timeout",
                detail=f"the query took longer than the {limit} ms limit: narrow the request "
                "(a smaller bbox, a territory filter, a smaller page)",
                instance=request.url.path,
            )
        return problem(503, "the database is unavailable, retry shortly", instance=request.url.path)

    @app.exception_handler(PoolTimeout)
    async def _pool_exhausted(request: Request, exc: PoolTimeout) -> JSONResponse:
        # every connection of a pool in use for its whole timeout: busy, not broken
        detail = "the service is busy (no database connection free), retry shortly"
        return problem(503, detail, instance=request.url.path)

    @app.exception_handler(ClientGone)
    async def _client_gone(request: Request, exc: ClientGone) -> Response:
        # nobody reads this answer; 499 (client closed request) is what the access log says
        return Response(status_code=499)

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return problem(503, "the database connection was lost, retry shortly")
        return problem(500, "database error", instance=request.url.path)


# The OGC API routes: an invalid parameter value there is a 400 (OGC API - Features, Part 1,
# /req/core/query-param-invalid; OGC API - Tiles likewise), where the rest of the API
# answers FastAPI's 422 for a value its declared type refuses.
OGC_PATH_PREFIXES = ("/collections", "/conformance", "/tileMatrixSets")


def is_ogc_path(path: str) -> bool:
    """Is ``path`` (a route template or a request path) one of the OGC API's?"""
    return path == "/" or path.startswith(OGC_PATH_PREFIXES)


def _route_path(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or request.url.path


def _template_pattern(template: str, operation: dict[str, Any]) -> str:
    """A path template as a regular expression: each parameter as the pattern its schema
    gives (/projects/{project_id} is digits: /projects/preview is another path), else
    any segment."""
    patterns = {
        p["name"]: p.get("schema", {}).get("pattern")
        for p in operation.get("parameters", [])
        if p.get("in") == "path"
    }

    def parameter(name: str) -> str:
        pattern = patterns.get(name)
        return f"(?:{pattern.removeprefix('^').removesuffix('$')})" if pattern else "[^/]+"

    parts = re.split(r"(\{[^}]+\})", template)
    return "".join(parameter(p[1:-1]) if p.startswith("{") else re.escape(p) for p in parts)


def _allowed_methods(request: Request, routed: set[str]) -> list[str]:
    """Every method the API documents on this path, with ``routed`` (the router's own 405,
    which names only the first matching route's: GET and POST /projects are two routes),
    for the Allow header of a 405 (RFC 9110 §15.5.6). HEAD goes with GET (HeadAsGet)."""
    methods = set(routed)
    for template, operations in request.app.openapi()["paths"].items():
        for method, operation in operations.items():
            if re.fullmatch(_template_pattern(template, operation), request.url.path):
                methods.add(method.upper())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)
