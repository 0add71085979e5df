"""Cross-origin requests (CORS, the Fetch standard): two policies, chosen per request.

- **Public reads** (GET or HEAD, no Authorization, a route that needs no token: OGC items,
  collections, tiles, TileJSON, searches, trajectories, envelope reports, /health…) are open
  to every origin, without credentials: ``Access-Control-Allow-Origin: *``. A map page
  served from any site can draw Foncier's tiles and features.
- **Token routes and writes** (any other method, a request carrying Authorization, or a
  route that needs a token, e.g. /audit, /me, /saved-searches, /alerts) answer only the
  origins FONCIER_CORS_ORIGINS names, one by one, never ``*``. Credentials (cookies) are
  never allowed: a token travels in the Authorization header, which the preflight allows.

Preflight requests (OPTIONS with Access-Control-Request-Method) are answered here, by the
policy of the request they announce (its method and headers); a refused preflight is a 403
with no CORS header. Whether a route needs a token is read from the route that answered
(its dependencies), so a new token route is covered without a list to keep.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from fastapi.dependencies.models import Dependant
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.auth import require_writer
from app.replicas import CONSISTENCY_HEADER

READ_METHODS = frozenset({"GET", "HEAD"})
# What scripts of another origin may read besides the safelisted headers: entity tags
# (conditional requests), Link (OGC paging), the name of an export, when to retry, where
# a created resource is, the CRS of coordinates, and the write position a next read must see
# (app.replicas: read-your-writes).
EXPOSED_HEADERS = (
    "ETag, Link, Content-Disposition, Retry-After, Location, Content-Crs, " + CONSISTENCY_HEADER
)
PUBLIC_ALLOW_HEADERS = (
    "accept",
    "accept-language",
    "content-language",
    "content-type",
    "if-none-match",
    "if-modified-since",
    CONSISTENCY_HEADER.lower(),
)
TOKEN_ALLOW_HEADERS = (*PUBLIC_ALLOW_HEADERS, "authorization", "if-match")
TOKEN_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
MAX_AGE = "600"


def _needs(dependant: Dependant, call: object) -> bool:
    return dependant.call is call or any(_needs(d, call) for d in dependant.dependencies)


def needs_token(scope: Scope) -> bool:
    """Whether the route that answered ``scope`` needs a bearer token (it depends on
    app.api.auth.require_writer)."""
    dependant = getattr(scope.get("route"), "dependant", None)
    return isinstance(dependant, Dependant) and _needs(dependant, require_writer)


class Cors:
    """ASGI middleware applying the two policies above."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.origins = frozenset(origins)

    @staticmethod
    def _is_public(method: str, headers: Iterable[str]) -> bool:
        return method in READ_METHODS and "authorization" not in headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        announced = headers.get("access-control-request-method")
        if scope["method"] == "OPTIONS" and announced is not None:
            requested = [
                h.strip().lower()
                for h in headers.get("access-control-request-headers", "").split(",")
                if h.strip()
            ]
            await self._preflight(send, origin, announced.upper(), requested)
            return
        named = origin in self.origins

        async def send_with_cors(message: Message) -> None:
            # the route is known once it has answered
            public = self._is_public(scope["method"], headers) and not needs_token(scope)
            allowed = "*" if public else origin if named else None
            if message["type"] == "http.response.start" and allowed is not None:
                extra = [
                    (b"access-control-allow-origin", allowed.encode("latin-1")),
                    (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
                ]
                if not public:
                    extra.append((b"vary", b"Origin"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, send: Send, origin: str, method: str, requested: list[str]) -> None:
        public = self._is_public(method, requested)
        allowed_headers = PUBLIC_ALLOW_HEADERS if public else TOKEN_ALLOW_HEADERS
        refused = [h for h in requested if h not in allowed_headers]
        if public and not refused:
            answer = [
                (b"access-control-allow-origin", b"*"),
                (b"access-control-allow-methods", b"GET, HEAD"),
            ]
        elif not public and origin in self.origins and not refused:
            answer = [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", TOKEN_METHODS.encode()),
                (b"vary", b"Origin"),
            ]
        else:
            why = (
                f"headers not allowed: {', '.join(refused)}"
                if refused
                else f"origin {origin} may not send this request (FONCIER_CORS_ORIGINS)"
            )
            body = json.dumps(
                {
                    "type": "about:blank",
                    "title": "Forbidden",
                    "status": 403,
                    "code": "denied",
                    "detail": f"cross-origin request refused: {why}",
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if requested:
            answer.append((b"access-control-allow-headers", ", ".join(requested).encode()))
        answer += [(b"access-control-max-age", MAX_AGE.encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 204, "headers": answer})
        await send({"type": "http.response.body", "body": b""})
