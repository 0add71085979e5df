"""The FastAPI application: routers assembled, errors mapped, engine bound to the settings."""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES

from app.api.cors import Cors
from app.api.errors import PROBLEM_RESPONSES, install_error_handlers
from app.api.exports import Exports
from app.api.limits import BodySizeLimit, HeadAsGet, RejectNul
from app.api.openapi import OPENAPI_PATH
from app.api.openapi import install as install_openapi
from app.api.responses import GZIP_MIN_BYTES, MVT
from app.api.routers import (
    admin,
    envelope,
    health,
    home,
    ogc,
    parcels,
    projects,
    search,
    sources,
    territories,
    tiles,
    trajectories,
    watch,
)
from app.db import health_engine, make_engine
from app.presentation.export import remove_stale
from app.replicas import CONSISTENCY_COOKIE, CONSISTENCY_HEADER, Replicas, bearer_key
from app.services.features import ExtentCache
from app.services.tile_cache import TileCache
from app.settings import Settings, get_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # What is loaded at start-up (modules, the app, pyproj/shapely/pyarrow internals) lives
    # as long as the process: frozen out of the collector's reach, a full collection no
    # longer walks it. Without this, every few requests paused ~80 ms in gen-2 collections
    # (bench/README.md, ranking).
    gc.collect()
    gc.freeze()
    # Writing an export is Python work (each parcel's score explained) in a worker thread:
    # a request waiting for the interpreter gets it after 1 ms, not 5 (the default), and
    # /health stays well under a second while exports are written (bench/README.md).
    sys.setswitchinterval(0.001)
    remove_stale()  # the export files of a process killed while writing them
    yield
    app.state.engine.dispose()
    app.state.health_engine.dispose()
    app.state.exports.dispose()
    app.state.replicas.dispose()


async def _record_writes(request: Request, call_next):
    """After a write has answered (its transaction committed), and before its author can
    send the next request: the position their reads must see, kept and given to the client
    as a consistency token that any process honours (app/replicas.py)."""
    response = await call_next(request)
    if request.method not in ("GET", "HEAD", "OPTIONS") and response.status_code < 400:
        bearer = bearer_key(request.headers.get("authorization"))
        lsn = await run_in_threadpool(
            request.app.state.replicas.record_write, request.app.state.engine, bearer
        )
        if lsn is not None:
            response.headers[CONSISTENCY_HEADER] = lsn
            # an old position is harmless (every standby is past it): short-lived
            response.set_cookie(
                CONSISTENCY_COOKIE, lsn, max_age=3600, httponly=True, samesite="strict"
            )
    return response


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        lifespan=lifespan,
        title="Foncier",
        version="0.1.0",
        description=(
            "Le foncier disponible pour la réindustrialisation : parcelles cadastrales, "
            "territoires, friches et zones d'activité sur PostGIS. Le GeoJSON suit la RFC 7946 "
            "(WGS84) ; les surfaces sont calculées en Lambert-93. Les erreurs sont des documents "
            "problem+json (RFC 9457) avec un `code` stable. Pour une carte : les tuiles "
            "vectorielles des parcelles, `/tiles/parcels/tilejson.json` (CORS ouvert en lecture)."
        ),
        # Served below from our own static files, not from a CDN (see add_docs).
        docs_url=None,
        redoc_url=None,
        # Served by app/api/openapi.py with the OpenAPI media type.
        openapi_url=None,
        # No redirect from /path/ to /path: Starlette builds its Location from the Host
        # header, which the client chooses. A trailing slash is a 404.
        redirect_slashes=False,
    )
    app.state.settings = settings
    pool = {"pool_size": settings.pool_size, "max_overflow": settings.pool_max_overflow}
    app.state.engine = make_engine(
        settings.url_for(),
        settings.statement_timeout_ms,
        pool_timeout_s=settings.pool_timeout_s,
        audited_commit=settings.sync_ledger_commit,
        pooler=settings.transaction_pooler,
        **pool,
    )
    app.state.health_engine = health_engine(settings)
    app.state.exports = Exports(settings.url_for(), settings)
    app.state.replicas = Replicas(
        settings.replica_urls,
        settings.statement_timeout_ms,
        pool_timeout_s=settings.pool_timeout_s,
        pooler=settings.transaction_pooler,
        **pool,
    )
    if settings.replica_urls:
        app.middleware("http")(_record_writes)
    app.state.extents = ExtentCache()
    app.state.tile_cache = TileCache(settings.tile_cache_mb * 1024 * 1024)
    install_error_handlers(app)
    # search before parcels: /parcels/search must not be taken for a parcel id
    for module in (
        home,
        ogc,
        tiles,
        health,
        territories,
        search,
        parcels,
        projects,
        envelope,
        trajectories,
        admin,
        sources,
        watch,
    ):
        app.include_router(module.router, responses=PROBLEM_RESPONSES)
    app.include_router(tiles.ogc_router, responses=PROBLEM_RESPONSES)
    app.mount("/static", StaticFiles(directory=home.STATIC_DIR), name="static")
    add_docs(app)
    install_openapi(app)
    # Each add_middleware wraps the previous ones: RejectNul reads bodies BodySizeLimit has
    # bounded; HeadAsGet, outermost, drops the body of whatever the others answer.
    app.add_middleware(RejectNul)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # GeoJSON shrinks 3-10x; level 5 costs a fraction of level 9's CPU. Tiles are
    # compressed by their route, at their own level (app/api/routers/tiles.py).
    app.add_middleware(
        GZipMiddleware,
        minimum_size=GZIP_MIN_BYTES,
        compresslevel=5,
        exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, MVT),
    )
    # Public reads from any origin, token routes and writes from the named ones (app/api/cors.py)
    app.add_middleware(Cors, origins=settings.cors_origin_list)
    app.add_middleware(HeadAsGet)

    return app


def add_docs(app: FastAPI) -> None:
    """/docs: Swagger UI from the npm registry's swagger-ui-dist, copied to static/vendor by
    `./dev` (and the Dockerfile), so the page works on a network without internet."""
    vendor = "/static/vendor/swagger-ui"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=OPENAPI_PATH,
            title=f"{app.title} – documentation de l'API",
            swagger_js_url=f"{vendor}/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            # No badge fetched from the public validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )
        # The page around Swagger UI is French (its own labels are Swagger's, in English):
        # said to screen readers and translators
        html = bytes(page.body).decode().replace("<html>", '<html lang="fr">', 1)
        return HTMLResponse(html)


app = create_app()
